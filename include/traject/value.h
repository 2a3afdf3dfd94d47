/*
 * Value types of the trajectd formats: money in integer cents, calendar
 * dates, timestamps with a zone, pseudonymous references and the BSN
 * eleven-test that keeps citizen service numbers out of the register.
 * All functions are pure and need no database.
 */
#ifndef TRAJECT_VALUE_H
#define TRAJECT_VALUE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest amount numeric(14,2) holds: 999,999,999,999.99. */
#define TJ_MONEY_MAX INT64_C(99999999999999)

/*
 * Parse a non-negative decimal money string with at most 2 decimals
 * ("150000", "150000.5", "150000.50") into cents. No sign, no exponent,
 * no thousands separators, at most 12 integer digits.
 * Returns 0, or TJ_EINVAL with *cents untouched.
 */
int tj_money_parse(const char *s, int64_t *cents);

/* Format cents as "-1234.50" (always 2 decimals). buf must hold 32 bytes. */
char *tj_money_format(int64_t cents, char buf[static 32]);

/*
 * A calendar date as days since 1970-01-01 (proleptic Gregorian).
 * tj_date_parse accepts exactly YYYY-MM-DD naming a real day in years
 * 1900..9999; returns 0 or TJ_EINVAL.
 */
int tj_date_parse(const char *s, int32_t *days);
/* Format as YYYY-MM-DD; buf must hold 11 bytes. */
char *tj_date_format(int32_t days, char buf[static 11]);
void tj_date_civil(int32_t days, int *y, int *m, int *d);
int32_t tj_date_from_civil(int y, int m, int d);

/*
 * True when s is an ISO 8601 timestamp with a zone, as cli.md requires:
 * YYYY-MM-DDTHH:MM[:SS[.fraction]](Z|+HH:MM|-HH:MM); date part real.
 */
bool tj_timestamp_valid(const char *s);

/* True when s is 1 to 64 of A-Z a-z 0-9 . _ - */
bool tj_ref_valid(const char *s);

/* True when the 9 characters at s are digits that pass the eleven-test. */
bool tj_bsn_eleven_test(const char *s);

/*
 * True when s contains a run of exactly nine digits (not part of a longer
 * run of digits) that passes the eleven-test: a value that may be a BSN.
 */
bool tj_contains_bsn(const char *s);

/*
 * Overwrite, in place, every run that tj_contains_bsn() would find with
 * '*' (same length). The last line of defence for text that leaves the
 * library (diagnostics, error messages, log lines): a message assembled
 * from harmless pieces (a JSON pointer's "~0" escape next to eight digits,
 * a value cut at a length limit) can still form one. Returns true when
 * something was masked.
 */
bool tj_mask_bsn(char *s);

#ifdef __cplusplus
}
#endif
#endif
