// vm-system C++ quick start: the C API with RAII. A template with a startup file, a session
// on a worktree prepared here (mkdtemp), a REPL snippet and a file run, with their events
// printed live.
//
// Build and run against an installed libvmsystem (bindings-c/install.sh PREFIX):
//
//   export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
//   c++ -std=c++17 -o quickstart examples/cpp/quickstart.cpp $(pkg-config --cflags --libs vmsystem)
//   LD_LIBRARY_PATH=PREFIX/lib ./quickstart [database-path]
//
// Without a database path the database is in memory.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include <vmsystem.h>

namespace {

// A failed call, with the SPEC code and the message of its vms_error_t.
struct VmsError : std::runtime_error {
    vms_status code;
    VmsError(vms_status code, const std::string &message)
        : std::runtime_error(message), code(code) {}
};

// Takes ownership of a call's error and throws it.
void check(vms_error_t *err) {
    if (!err) return;
    std::unique_ptr<vms_error_t, decltype(&vms_error_free)> owned(err, vms_error_free);
    throw VmsError(vms_error_code(err), std::string(vms_status_name(vms_error_code(err))) + ": " +
                                            vms_error_message(err));
}

// Takes ownership of a string returned through char **out.
std::string take(char *text) {
    std::unique_ptr<char, decltype(&vms_string_free)> owned(text, vms_string_free);
    return text ? std::string(text) : std::string();
}

// The "id" of a record in JSON text (a real program would use a JSON library).
std::string id_of(const std::string &json) {
    const std::string key = "\"id\":\"";
    auto start = json.find(key) + key.size();
    return json.substr(start, json.find('"', start) - start);
}

// Live events. Must not throw: exceptions may not cross the C library.
int print_event(const char *event_json, void *user_data) {
    std::printf("  [%s] %s\n", static_cast<const char *>(user_data), event_json);
    return 0;
}

}  // namespace

int main(int argc, char **argv) try {
    char pattern[] = "/tmp/vms-quickstart-cpp-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    const std::filesystem::path worktree = pattern;
    std::filesystem::create_directories(worktree / "runtime");
    std::ofstream(worktree / "runtime/init.js") << "globalThis.greet = (name) => `hello, ${name}`;\n";
    std::ofstream(worktree / "report.js")
        << "console.log('args:', __ARGS__);\nconsole.warn('counter is', counter);\n"
           "({ total: counter * 2 })\n";

    std::cout << "vm-system " << vms_version() << "\n";
    vms_t *raw = nullptr;
    check(vms_open(argc > 1 ? argv[1] : nullptr, &raw));
    std::unique_ptr<vms_t, decltype(&vms_free)> vms(raw, vms_free);

    char *out = nullptr;
    check(vms_template_create(vms.get(), "quickstart", nullptr, &out));
    const std::string template_id = id_of(take(out));
    check(vms_startup_file_add(vms.get(), template_id.c_str(), "runtime/init.js", 10, "eval", nullptr));

    char startup[] = "startup", repl[] = "repl", run_file[] = "run_file";
    check(vms_session_create(vms.get(), template_id.c_str(), "ws-demo", "abc123",
                             worktree.c_str(), print_event, startup, &out));
    const std::string session = take(out);
    std::cout << "session: " << session << "\n";
    const std::string session_id = id_of(session);

    check(vms_repl(vms.get(), session_id.c_str(),
                   "var counter = 21; console.log(greet('world')); counter", print_event, repl, &out));
    std::cout << "repl execution: " << take(out) << "\n";

    check(vms_run_file(vms.get(), session_id.c_str(), "report.js", R"({"day": "monday"})", nullptr,
                       print_event, run_file, &out));
    const std::string execution = take(out);
    std::cout << "run_file execution: " << execution << "\n";

    check(vms_events(vms.get(), id_of(execution).c_str(), 0, &out));
    std::cout << "stored events: " << take(out) << "\n";

    // A typed error: running a file outside the worktree.
    try {
        check(vms_run_file(vms.get(), session_id.c_str(), "../escape.js", nullptr, nullptr, nullptr,
                           nullptr, nullptr));
    } catch (const VmsError &e) {
        std::cout << "refused as expected: " << e.what() << "\n";
        if (e.code != VMS_INVALID_PATH) return 1;
    }

    check(vms_session_close(vms.get(), session_id.c_str(), nullptr));
    std::filesystem::remove_all(worktree);
    return 0;
} catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
}
