/* tsq-test-agent.h: runs the real techscaniq-agent binary from tests. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Runs `techscaniq-agent ARGS...` to completion; returns its exit status, fills stdout/stderr. */
int tsq_test_agent_run (char **out, char **err, const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
int tsq_test_agent_runv (const char *const *argv, char **out, char **err);
/* Starts `techscaniq-agent run --database DB ARGS...` in the background (stdout/stderr to files
 * in the database's directory). */
GSubprocess *tsq_test_agent_spawn (const char *database, const char *const *extra_args);
/* A fresh temporary directory for one test (removed by the caller with rm -rf semantics). */
char *tsq_test_make_tmpdir (void);
void tsq_test_rm_rf (const char *path);

G_END_DECLS
