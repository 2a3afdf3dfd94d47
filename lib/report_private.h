/*
 * Private side of the report model (include/traject/report.h): building
 * the tree (lib/indicators.c, the unit tests) and the spelling check both
 * writers apply before they emit a value.
 */
#ifndef TJ_REPORT_PRIVATE_H
#define TJ_REPORT_PRIVATE_H

#include <stdbool.h>

#include "traject/report.h"

struct tj_report {
	struct tj_rnode root; /* an object named "report" */
	bool oom;             /* a tj_rn_add failed: the tree is incomplete */
};

/* A new, empty report: root object only. Returns 0 or TJ_ENOMEM. */
int tj_report_new(struct tj_report **out, tj_err *err);

/*
 * Append a node to parent (objects and lists ignore text; scalars copy it,
 * NULL meaning null). Returns the new node, or NULL when parent is NULL or
 * memory ran out; then r->oom is set, so a builder checks once at the end.
 */
struct tj_rnode *tj_rn_add(struct tj_report *r, struct tj_rnode *parent, const char *name,
			   enum tj_rtype type, const char *text);

/* The child named name of a mutable node, or NULL. */
struct tj_rnode *tj_rn_child(struct tj_rnode *n, const char *name);

/* The mutable node at a '/'-separated path from the root, or NULL. */
struct tj_rnode *tj_rn_find(struct tj_report *r, const char *path);

/*
 * Give a scalar node a new type and text (copied; NULL for null).
 * Returns 0 or TJ_ENOMEM (the node keeps its old value).
 */
int tj_rn_set(struct tj_rnode *n, enum tj_rtype type, const char *text, tj_err *err);

/* Remove (and free) the child named name of parent, if there is one. */
void tj_rn_remove(struct tj_rnode *parent, const char *name);

/* True when text is the canonical spelling of a non-null value of type. */
bool tj_rtext_valid(enum tj_rtype type, const char *text);

#endif
