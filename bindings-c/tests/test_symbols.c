/*
 * A host that links its own SQLite (-lsqlite3) and the static libvmsystem.a: each gets its
 * own. libvmsystem.a exports only vms_* (install.sh), so the host's sqlite3_* calls reach
 * the system library its header describes, not the copy bundled inside vm-system.
 */
#include <sqlite3.h>

#include "check.h"

int main(void) {
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    vms_t *vms;
    char *template_id, *session_id, *tree;
    json *exec;

    /* The host's SQLite is the one it was compiled against. */
    CHECK_STR(sqlite3_libversion(), SQLITE_VERSION);
    CHECK(sqlite3_libversion_number() == SQLITE_VERSION_NUMBER);
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "SELECT sqlite_version()", -1, &stmt, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(stmt, 0), SQLITE_VERSION);
    sqlite3_finalize(stmt);
    sqlite3_close(db);

    /* And vm-system works with its own. */
    vms = open_memory();
    template_id = new_template(vms, "symbols");
    tree = make_temp_dir();
    session_id = new_session(vms, template_id, tree);
    exec = repl_ok(vms, session_id, "40 + 2");
    CHECK(exec_value(exec) && exec_value(exec)->number == 42);
    json_free(exec);
    vms_free(vms);
    free(template_id);
    free(session_id);
    remove_tree(tree);
    printf("test_symbols: ok (host SQLite %s)\n", sqlite3_libversion());
    return 0;
}
