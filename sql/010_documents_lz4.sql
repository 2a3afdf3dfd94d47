-- 010: compress stored documents with lz4 instead of pglz (docs/performance.md).
--
-- A national calendar stores about 250 MB of XML and JSON; pglz took 1.6 s
-- of server time to compress it, lz4 0.35 s, for 33 MB instead of 29 MB
-- on disk. Documents already stored keep their compression (both are read
-- alike). A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE traject.documents ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4: documents stay compressed with pglz';
END $$;
