/*
 * vm-system C quick start: a template with a startup file, a session on a worktree
 * prepared here (mkdtemp), a REPL snippet and a file run, with their events printed live.
 *
 * Build and run against an installed libvmsystem (bindings-c/install.sh PREFIX):
 *
 *   export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
 *   cc -std=c99 -o quickstart examples/c/quickstart.c $(pkg-config --cflags --libs vmsystem)
 *   LD_LIBRARY_PATH=PREFIX/lib ./quickstart [database-path]
 *
 * With CMake: examples/c/CMakeLists.txt (find_package(vmsystem)).
 * Without a database path the database is in memory.
 */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmsystem.h>

/* Exits with the error's code and message when a call failed. */
static void check(vms_error_t *err, const char *what) {
    if (err) {
        fprintf(stderr, "%s failed: %s: %s (details %s)\n", what,
                vms_status_name(vms_error_code(err)), vms_error_message(err),
                vms_error_details_json(err));
        vms_error_free(err);
        exit(1);
    }
}

/* Live events: called for each event as it happens. */
static int print_event(const char *event_json, void *user_data) {
    printf("  [%s] %s\n", (const char *)user_data, event_json);
    return 0;
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* The "id" of a record in JSON text (a real program would use a JSON library). */
static char *json_id(const char *json) {
    const char *start = strstr(json, "\"id\":\"");
    const char *end;
    char *id;
    if (!start) exit(1);
    start += 6;
    end = strchr(start, '"');
    id = malloc((size_t)(end - start) + 1);
    memcpy(id, start, (size_t)(end - start));
    id[end - start] = '\0';
    return id;
}

int main(int argc, char **argv) {
    char worktree[] = "/tmp/vms-quickstart-XXXXXX";
    char runtime[4096];
    vms_t *vms = NULL;
    char *template_json = NULL, *session_json = NULL, *exec_json = NULL, *events = NULL;
    char *template_id, *session_id;

    /* A worktree with a startup file and a script. */
    if (!mkdtemp(worktree)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(runtime, sizeof runtime, "%s/runtime", worktree);
    mkdir(runtime, 0755);
    write_text(worktree, "runtime/init.js", "globalThis.greet = (name) => `hello, ${name}`;\n");
    write_text(worktree, "report.js",
               "console.log('args:', __ARGS__);\nconsole.warn('counter is', counter);\n"
               "({ total: counter * 2 })\n");

    printf("vm-system %s\n", vms_version());
    check(vms_open(argc > 1 ? argv[1] : NULL, &vms), "vms_open");

    check(vms_template_create(vms, "quickstart", "quickjs", &template_json), "vms_template_create");
    template_id = json_id(template_json);
    check(vms_startup_file_add(vms, template_id, "runtime/init.js", 10, "eval", NULL),
          "vms_startup_file_add");

    check(vms_session_create(vms, template_id, "ws-demo", "abc123", worktree, print_event,
                             "startup", &session_json),
          "vms_session_create");
    printf("session: %s\n", session_json);
    session_id = json_id(session_json);

    check(vms_repl(vms, session_id, "var counter = 21; console.log(greet('world')); counter",
                   print_event, "repl", &exec_json),
          "vms_repl");
    printf("repl execution: %s\n", exec_json);
    vms_string_free(exec_json);

    check(vms_run_file(vms, session_id, "report.js", "{\"day\": \"monday\"}", NULL, print_event,
                       "run_file", &exec_json),
          "vms_run_file");
    printf("run_file execution: %s\n", exec_json);

    /* The same events, read back from the database. */
    {
        char *exec_id = json_id(exec_json);
        check(vms_events(vms, exec_id, 0, &events), "vms_events");
        printf("stored events: %s\n", events);
        free(exec_id);
    }

    check(vms_session_close(vms, session_id, NULL), "vms_session_close");
    vms_string_free(events);
    vms_string_free(exec_json);
    vms_string_free(session_json);
    vms_string_free(template_json);
    free(session_id);
    free(template_id);
    vms_free(vms);

    snprintf(runtime, sizeof runtime, "%s/runtime/init.js", worktree);
    unlink(runtime);
    snprintf(runtime, sizeof runtime, "%s/report.js", worktree);
    unlink(runtime);
    snprintf(runtime, sizeof runtime, "%s/runtime", worktree);
    rmdir(runtime);
    rmdir(worktree);
    return 0;
}
