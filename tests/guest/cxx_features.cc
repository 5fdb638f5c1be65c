// cxx_features: the C++ runtime on top of the kernel: iostream, std::string, exceptions
// (unwinding through frames, std::runtime_error, catch(...)), containers, virtual dispatch,
// static constructors.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(const std::string& what, bool ok) {
    std::cout << what << ": " << (ok ? "ok" : "FAIL") << '\n';
    if (!ok) ++failures;
}

// A global with a constructor: runs before main through .init_array.
struct Registry {
    std::vector<std::string> names{"alpha", "beta"};
    Registry() { names.push_back("gamma"); }
};
Registry registry;

struct Shape {
    virtual ~Shape() = default;
    virtual std::string name() const = 0;
    virtual double area() const = 0;
};

struct Square : Shape {
    explicit Square(double s) : side(s) {}
    std::string name() const override { return "square"; }
    double area() const override { return side * side; }
    double side;
};

struct Circle : Shape {
    explicit Circle(double r) : radius(r) {}
    std::string name() const override { return "circle"; }
    double area() const override { return 3.0 * radius * radius; }  // integral on purpose
    double radius;
};

struct Custom {
    int code;
};

int destroyed = 0;
struct Guard {
    ~Guard() { ++destroyed; }
};

[[gnu::noinline]] int depth3(int n) {
    Guard g;
    if (n > 2) throw std::runtime_error("too deep: " + std::to_string(n));
    return n;
}
[[gnu::noinline]] int depth2(int n) {
    Guard g;
    return depth3(n + 1) + 1;
}
[[gnu::noinline]] int depth1(int n) {
    Guard g;
    return depth2(n + 1) + 1;
}
[[gnu::noinline]] void throw_custom(int code) { throw Custom{code}; }
[[gnu::noinline]] void throw_int() { throw 17; }

void exceptions() {
    try {
        depth1(1);
        check("exception thrown", false);
    } catch (const std::runtime_error& e) {
        std::cout << "caught runtime_error: " << e.what() << '\n';
        check("destructors ran while unwinding", destroyed == 3);
    }
    try {
        throw_custom(5);
    } catch (const Custom& c) {
        std::cout << "caught Custom{" << c.code << "}\n";
    }
    try {
        throw_int();
    } catch (...) {
        std::cout << "caught ... (int)\n";
    }
    try {
        std::vector<int> v(3);
        (void)v.at(10);
    } catch (const std::out_of_range&) {
        std::cout << "caught out_of_range from vector::at\n";
    }
    try {
        try {
            throw std::logic_error("inner");
        } catch (const std::exception& e) {
            std::cout << "rethrowing " << e.what() << '\n';
            throw;
        }
    } catch (const std::logic_error& e) {
        std::cout << "caught rethrown " << e.what() << '\n';
    }
    int ok_path = 0;
    try {
        ok_path = depth1(0);
    } catch (...) {
        ok_path = -1;
    }
    std::cout << "no-throw path returned " << ok_path << '\n';
}

void strings() {
    std::string s = "mote";
    s += " runs ";
    s.append("unmodified programs");
    std::cout << s << " (" << s.size() << " chars)\n";
    std::cout << "find(runs)=" << s.find("runs") << " substr=" << s.substr(5, 4) << '\n';
    std::string upper = s;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::cout << upper << '\n';
    std::string big(100000, 'x');  // heap-allocated, well beyond SSO
    big.replace(500, 3, "abc");
    check("long string", big.size() == 100000 && big.compare(500, 3, "abc") == 0);
    std::ostringstream os;
    os << 42 << ' ' << 3.25 << ' ' << std::hex << 255;
    std::cout << "ostringstream: " << os.str() << '\n';
    std::istringstream is("7 11 13");
    int a, b, c;
    is >> a >> b >> c;
    std::cout << "istringstream sum: " << a + b + c << '\n';
}

void containers() {
    std::vector<int> v;
    for (int i = 0; i < 1000; ++i) v.push_back((i * 37) % 1000);
    std::sort(v.begin(), v.end());
    check("sorted vector", std::is_sorted(v.begin(), v.end()) && v.front() == 0 && v.back() == 999);
    std::cout << "vector sum: " << std::accumulate(v.begin(), v.end(), 0L) << '\n';

    std::map<std::string, int> counts;
    for (const char* w : {"pear", "apple", "fig", "apple", "pear", "apple"}) ++counts[w];
    for (const auto& [word, n] : counts) std::cout << "map " << word << '=' << n << '\n';

    std::cout << "registry:";
    for (const auto& n : registry.names) std::cout << ' ' << n;
    std::cout << '\n';
}

void virtuals() {
    std::vector<std::unique_ptr<Shape>> shapes;
    shapes.push_back(std::make_unique<Square>(3));
    shapes.push_back(std::make_unique<Circle>(2));
    shapes.push_back(std::make_unique<Square>(1.5));
    for (const auto& s : shapes) std::cout << s->name() << " area " << s->area() << '\n';
    const Shape& ref = *shapes[1];
    check("dynamic_cast", dynamic_cast<const Circle*>(&ref) != nullptr &&
                              dynamic_cast<const Square*>(&ref) == nullptr);
}

}  // namespace

int main() {
    std::cout << "cxx_features start\n";
    strings();
    containers();
    virtuals();
    exceptions();
    std::cerr << "stderr via std::cerr\n";
    std::cout << (failures ? "cxx_features: FAIL" : "cxx_features: ok") << std::endl;
    return failures ? 1 : 0;
}
