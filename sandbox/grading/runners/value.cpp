// Value-test harness for C++, run in the sandbox as main.cpp, once per case (the case number is
// argv[1]). The student's sources are included below (their own main renamed), so each call is
// checked against the student's real declarations; the grader writes the calls, with the
// arguments as literals (lists and tables as braced lists). The returned value is reported by
// its C++ type as one record on stdout, on a line of its own: "\x1evalue <tagged JSON>" or
// "\x1eraised <JSON string>" for an exception. It decides nothing: the server compares the
// value with the expected one, which is not here.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#define main gv_student_main
/* @@INCLUDES@@ */
#undef main

static std::string gv_text(const std::string &s) {
    std::string out = "\"";
    char one[8];
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            std::snprintf(one, sizeof one, "\\u%04x", c);
            out += one;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

static std::string gv_tag(bool v) { return std::string("{\"t\": \"bool\", \"v\": ") + (v ? "true}" : "false}"); }
static std::string gv_tag(char v) { return "{\"t\": \"str\", \"v\": " + gv_text(std::string(1, v)) + "}"; }
static std::string gv_tag(const std::string &v) { return "{\"t\": \"str\", \"v\": " + gv_text(v) + "}"; }
static std::string gv_tag(const char *v) { return v ? gv_tag(std::string(v)) : "{\"t\": \"null\"}"; }
static std::string gv_tag(std::nullptr_t) { return "{\"t\": \"null\"}"; }
template <class T>
static typename std::enable_if<std::is_integral<T>::value && !std::is_same<T, bool>::value && !std::is_same<T, char>::value, std::string>::type
gv_tag(T v) { return "{\"t\": \"int\", \"v\": \"" + std::to_string(v) + "\"}"; }
template <class T>
static typename std::enable_if<std::is_floating_point<T>::value, std::string>::type gv_tag(T v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", static_cast<double>(v));
    return std::string("{\"t\": \"float\", \"v\": \"") + text + "\"}";
}
template <class T> static std::string gv_tag(const std::vector<T> &v);
template <class K, class V> static std::string gv_tag(const std::map<K, V> &v);
template <class K, class V> static std::string gv_tag(const std::unordered_map<K, V> &v);
template <class T> static std::string gv_tag(const std::optional<T> &v);
template <class T> static std::string gv_tag(const std::vector<T> &v) {
    std::string out = "{\"t\": \"list\", \"v\": [";
    for (size_t i = 0; i < v.size(); i++) out += (i ? ", " : "") + gv_tag(static_cast<T>(v[i]));
    return out + "]}";
}
template <class M> static std::string gv_pairs(const M &m) {
    std::string out = "{\"t\": \"dict\", \"v\": [";
    bool first = true;
    for (const auto &kv : m) {
        out += (first ? "[" : ", [") + gv_tag(kv.first) + ", " + gv_tag(kv.second) + "]";
        first = false;
    }
    return out + "]}";
}
template <class K, class V> static std::string gv_tag(const std::map<K, V> &v) { return gv_pairs(v); }
template <class K, class V> static std::string gv_tag(const std::unordered_map<K, V> &v) { return gv_pairs(v); }
template <class T> static std::string gv_tag(const std::optional<T> &v) { return v ? gv_tag(*v) : "{\"t\": \"null\"}"; }

static void gv_emit(const std::string &kind, const std::string &json) {
    std::fflush(stdout);
    std::string line = "\n\x1e" + kind + " " + json + "\n";
    if (write(1, line.data(), line.size()) < 0) _exit(3);
}

int main(int argc, char **argv) {
    int gv_case = argc > 1 ? std::atoi(argv[1]) : -1;
    try {
        switch (gv_case) {
        /* @@CASES@@ */
        default:
            std::fprintf(stderr, "no such case\n");
            return 2;
        }
    } catch (const std::exception &e) {
        gv_emit("raised", gv_text(std::string("exception: ") + e.what()));
    } catch (...) {
        gv_emit("raised", gv_text("an exception that is not a std::exception"));
    }
    return 0;
}
