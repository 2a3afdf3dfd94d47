/* The migrations compiled in from sql/ (see tools/embed_sql.py). */
#ifndef TJ_MIGRATE_PRIVATE_H
#define TJ_MIGRATE_PRIVATE_H

struct tj_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct tj_migration tj_migrations[];
extern const int tj_migrations_count;

#endif
