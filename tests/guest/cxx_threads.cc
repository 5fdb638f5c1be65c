// cxx_threads: the C++ standard library's threads on top of the kernel (C++20):
// std::thread with std::atomic and std::mutex counters, std::async/std::future,
// std::promise (values and exceptions across threads), std::packaged_task,
// std::condition_variable producer/consumer, thread_local objects constructed and destroyed
// once per thread, std::shared_mutex readers/writers, std::call_once, std::jthread with
// std::stop_token/std::stop_callback and condition_variable_any waits that stop,
// std::latch, std::barrier and std::counting_semaphore, std::this_thread::sleep_for/yield.
// Prints totals and ok lines only; a failed check exits 1 with a line on stderr.
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <latch>
#include <mutex>
#include <numeric>
#include <semaphore>
#include <shared_mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(const std::string& what, bool ok) {
    std::cout << what << ": " << (ok ? "ok" : "FAIL") << '\n';
    if (!ok) {
        std::cerr << "FAIL: " << what << '\n';
        ++failures;
    }
}

void check_value(const std::string& what, long long got, long long want) {
    std::cout << what << ' ' << got << '\n';
    if (got != want) {
        std::cerr << "FAIL: " << what << ": got " << got << ", expected " << want << '\n';
        ++failures;
    }
}

void counters() {
    constexpr int threads = 8, iters = 250000;
    std::atomic<long> atomic_total{0};
    long locked_total = 0;
    std::mutex m;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (int i = 0; i < iters; ++i) {
                atomic_total.fetch_add(1, std::memory_order_relaxed);
                if (i % 4 == 0) {
                    std::lock_guard<std::mutex> lock(m);
                    ++locked_total;
                }
            }
        });
    for (auto& t : pool) t.join();
    check_value("std::atomic total", atomic_total.load(), long(threads) * iters);
    check_value("std::mutex total", locked_total, long(threads) * iters / 4);

    // compare_exchange loop: a running maximum.
    std::atomic<int> maximum{0};
    pool.clear();
    for (int t = 0; t < 4; ++t)
        pool.emplace_back([&, t] {
            for (int i = 0; i < 10000; ++i) {
                int v = (i * 7919 + t * 104729) % 100003, cur = maximum.load();
                while (v > cur && !maximum.compare_exchange_weak(cur, v)) {}
            }
        });
    for (auto& t : pool) t.join();
    int want = 0;
    for (int t = 0; t < 4; ++t)
        for (int i = 0; i < 10000; ++i) want = std::max(want, (i * 7919 + t * 104729) % 100003);
    check_value("std::atomic compare_exchange maximum", maximum.load(), want);
}

long sum_range(long from, long to) {
    long s = 0;
    for (long i = from; i < to; ++i) s += i % 1000;
    return s;
}

void futures() {
    std::vector<std::future<long>> parts;
    for (long p = 0; p < 4; ++p)
        parts.push_back(std::async(std::launch::async, sum_range, p * 250000, (p + 1) * 250000));
    long total = 0;
    for (auto& f : parts) total += f.get();
    check_value("std::async sum of 4 parts", total, sum_range(0, 1000000));

    std::promise<std::string> promise;
    std::future<std::string> value = promise.get_future();
    std::thread setter([&] { promise.set_value("from another thread"); });
    check("std::promise value", value.get() == "from another thread");
    setter.join();

    std::promise<int> failing;
    std::future<int> error = failing.get_future();
    std::thread thrower([&] {
        try {
            throw std::runtime_error("thrown in a thread");
        } catch (...) {
            failing.set_exception(std::current_exception());
        }
    });
    std::string message;
    try {
        error.get();
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    thrower.join();
    check("std::promise exception rethrown by get()", message == "thrown in a thread");

    std::packaged_task<int(int, int)> task([](int a, int b) { return a * b; });
    std::future<int> product = task.get_future();
    std::thread runner(std::move(task), 6, 7);
    runner.join();
    check_value("std::packaged_task result", product.get(), 42);

    auto deferred = std::async(std::launch::deferred, [] { return std::this_thread::get_id(); });
    check("std::launch::deferred runs on the calling thread", deferred.get() == std::this_thread::get_id());
    auto other = std::async(std::launch::async, [] { return std::this_thread::get_id(); });
    check("std::launch::async runs on another thread", other.get() != std::this_thread::get_id());
}

void producer_consumer() {
    constexpr int producers = 3, consumers = 3, items = 10000;
    std::mutex m;
    std::condition_variable not_empty, not_full;
    std::deque<long> queue;
    int producers_left = producers;
    std::atomic<long> consumed{0}, sum{0};
    std::vector<std::thread> pool;
    for (int p = 0; p < producers; ++p)
        pool.emplace_back([&, p] {
            for (long i = 1; i <= items; ++i) {
                std::unique_lock<std::mutex> lock(m);
                not_full.wait(lock, [&] { return queue.size() < 8; });
                queue.push_back(p * 100000 + i);
                not_empty.notify_one();
            }
            std::lock_guard<std::mutex> lock(m);
            if (--producers_left == 0) not_empty.notify_all();
        });
    for (int c = 0; c < consumers; ++c)
        pool.emplace_back([&] {
            for (;;) {
                std::unique_lock<std::mutex> lock(m);
                not_empty.wait(lock, [&] { return !queue.empty() || producers_left == 0; });
                if (queue.empty()) return;
                long v = queue.front();
                queue.pop_front();
                not_full.notify_one();
                lock.unlock();
                consumed.fetch_add(1);
                sum.fetch_add(v);
            }
        });
    for (auto& t : pool) t.join();
    long want = 0;
    for (long p = 0; p < producers; ++p) want += p * 100000 * items + long(items) * (items + 1) / 2;
    check_value("std::condition_variable queue items", consumed.load(), long(producers) * items);
    check_value("std::condition_variable queue sum", sum.load(), want);

    std::mutex tm;
    std::condition_variable never;
    std::unique_lock<std::mutex> lock(tm);
    auto start = std::chrono::steady_clock::now();
    bool timed_out = never.wait_for(lock, std::chrono::milliseconds(20)) == std::cv_status::timeout;
    check("condition_variable::wait_for 20 ms times out, not early",
          timed_out && std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(20));
}

// Counts constructions and destructions of a thread_local object.
std::atomic<int> tls_constructed{0}, tls_destroyed{0};
std::atomic<long> tls_sum{0};

struct PerThread {
    long value = 0;
    PerThread() { tls_constructed.fetch_add(1); }
    ~PerThread() {
        tls_sum.fetch_add(value);
        tls_destroyed.fetch_add(1);
    }
};
thread_local PerThread per_thread;
thread_local int tls_plain = 5;

void thread_locals() {
    constexpr int threads = 6;
    std::atomic<int> plain_ok{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            if (tls_plain == 5) plain_ok.fetch_add(1);
            tls_plain = t;
            for (int i = 0; i <= t; ++i) per_thread.value += 10;
            std::this_thread::yield();
            if (tls_plain != t) plain_ok.fetch_sub(100);
        });
    for (auto& t : pool) t.join();
    check_value("thread_local constructed in each thread", tls_constructed.load(), threads);
    check_value("thread_local destroyed at each thread's exit", tls_destroyed.load(), threads);
    check_value("thread_local values summed by the destructors", tls_sum.load(), 10L * threads * (threads + 1) / 2);
    check_value("thread_local int initialised in each thread", plain_ok.load(), threads);
    check("main thread's thread_local untouched", tls_plain == 5);
}

void shared_mutex_readers_writers() {
    std::shared_mutex sm;
    long a = 0, b = 0;
    std::atomic<long> bad{0};
    std::vector<std::thread> pool;
    for (int w = 0; w < 2; ++w)
        pool.emplace_back([&] {
            for (int i = 0; i < 3000; ++i) {
                std::unique_lock<std::shared_mutex> lock(sm);
                ++a;
                if (i % 100 == 0) std::this_thread::yield();
                ++b;
            }
        });
    for (int r = 0; r < 4; ++r)
        pool.emplace_back([&] {
            for (int i = 0; i < 5000; ++i) {
                std::shared_lock<std::shared_mutex> lock(sm);
                if (a != b) bad.fetch_add(1);
            }
        });
    for (auto& t : pool) t.join();
    check_value("std::shared_mutex writes", a, 6000);
    check_value("std::shared_mutex readers saw a half-done write", bad.load(), 0);

    // While this thread holds it shared, another can share it but not take it exclusively.
    bool shared_ok = false, exclusive_refused = false;
    {
        std::shared_lock<std::shared_mutex> lock(sm);
        std::thread other([&] {
            shared_ok = sm.try_lock_shared();
            if (shared_ok) sm.unlock_shared();
            exclusive_refused = !sm.try_lock();
            if (!exclusive_refused) sm.unlock();
        });
        other.join();
    }
    check("std::shared_mutex held shared: try_lock_shared succeeds, try_lock fails",
          shared_ok && exclusive_refused);
}

void once_and_sync() {
    std::once_flag flag;
    std::atomic<int> runs{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 8; ++t)
        pool.emplace_back([&] { std::call_once(flag, [&] { runs.fetch_add(1); }); });
    for (auto& t : pool) t.join();
    check_value("std::call_once runs", runs.load(), 1);

    constexpr int threads = 4, rounds = 20;
    std::atomic<int> completions{0};
    std::barrier sync(threads, [&]() noexcept { completions.fetch_add(1); });
    std::vector<int> slots(threads * rounds, 0);
    std::atomic<int> mismatches{0};
    pool.clear();
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int r = 0; r < rounds; ++r) {
                slots[r * threads + t] = r + 1;
                sync.arrive_and_wait();
                for (int u = 0; u < threads; ++u)
                    if (slots[r * threads + u] != r + 1) mismatches.fetch_add(1);
            }
        });
    for (auto& t : pool) t.join();
    check_value("std::barrier completion function runs", completions.load(), rounds);
    check_value("std::barrier mismatches", mismatches.load(), 0);

    std::counting_semaphore<4> slots_free(2);
    std::atomic<int> inside{0}, peak{0}, done{0};
    pool.clear();
    for (int t = 0; t < 6; ++t)
        pool.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                slots_free.acquire();
                int now = inside.fetch_add(1) + 1;
                int p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {}
                std::this_thread::yield();
                inside.fetch_sub(1);
                slots_free.release();
            }
            done.fetch_add(1);
        });
    for (auto& t : pool) t.join();
    check("std::counting_semaphore(2): never more than 2 inside", peak.load() <= 2 && done.load() == 6);
    check("counting_semaphore::try_acquire_for on an empty semaphore times out", [] {
        std::counting_semaphore<1> empty(0);
        return !empty.try_acquire_for(std::chrono::milliseconds(10));
    }());
}

// GCC 12 warns falsely inside <stop_token> (std::stop_source's constructor passes *this).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void jthreads() {
    std::atomic<long> iterations{0};
    std::atomic<bool> callback_ran{false}, saw_stop{false};
    {
        std::jthread worker([&](std::stop_token st) {
            std::stop_callback cb(st, [&] { callback_ran = true; });
            while (!st.stop_requested()) {
                iterations.fetch_add(1);
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            saw_stop = true;
        });
        while (iterations.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }  // ~jthread: request_stop() and join()
    check("std::jthread destructor requests stop and joins", saw_stop.load() && callback_ran.load());

    // condition_variable_any::wait with a stop_token returns when stop is requested.
    std::mutex m;
    std::condition_variable_any cv;
    std::atomic<bool> returned{false}, predicate_false{false};
    std::jthread waiter([&](std::stop_token st) {
        std::unique_lock<std::mutex> lock(m);
        bool result = cv.wait(lock, st, [] { return false; });
        predicate_false = !result;
        returned = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    waiter.request_stop();
    waiter.join();
    check("condition_variable_any::wait(stop_token) returns on request_stop", returned && predicate_false);

    auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    check("std::this_thread::sleep_for 15 ms, not early",
          std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(15));
    check("std::thread::hardware_concurrency >= 1", std::thread::hardware_concurrency() >= 1);
}
#pragma GCC diagnostic pop

}  // namespace

int main() {
    counters();
    futures();
    producer_consumer();
    thread_locals();
    shared_mutex_readers_writers();
    once_and_sync();
    jthreads();
    if (failures) {
        std::cout << failures << " checks failed\n";
        return 1;
    }
    std::cout << "all C++ thread checks passed\n";
    return 0;
}
