# The python3 threads acceptance script of issue 5: the threading module,
# concurrent.futures, queues, timers and signal handlers in a threaded
# interpreter. Deterministic output, compared natively and under mote.
import concurrent.futures
import queue
import signal
import threading
import time


def work(n):
    return sum(i * i for i in range(n))


with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
    print("pool map", sum(ex.map(work, [20000 + i for i in range(16)])))
    futs = [ex.submit(work, 1000 * i) for i in range(8)]
    print("pool futures", [f.result() % 1000 for f in futs])

q = queue.Queue(maxsize=16)
total = []


def producer(base):
    for i in range(500):
        q.put(base + i)


def consumer():
    s = 0
    while True:
        v = q.get()
        if v is None:
            break
        s += v
    total.append(s)


consumers = [threading.Thread(target=consumer) for _ in range(3)]
producers = [threading.Thread(target=producer, args=(1000 * k,)) for k in range(4)]
for t in consumers + producers:
    t.start()
for t in producers:
    t.join()
for _ in consumers:
    q.put(None)
for t in consumers:
    t.join()
print("queue sum", sum(total))

lock = threading.Lock()
count = [0]


def inc():
    for _ in range(20000):
        with lock:
            count[0] += 1


ts = [threading.Thread(target=inc) for _ in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("lock count", count[0])

barrier = threading.Barrier(4)
arrivals = []


def meet(i):
    for r in range(5):
        barrier.wait()
        with lock:
            arrivals.append(r)


ts = [threading.Thread(target=meet, args=(i,)) for i in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("barrier rounds", sorted(set(arrivals)), len(arrivals))

cond = threading.Condition()
ready = []


def waiter():
    with cond:
        cond.wait_for(lambda: ready)
        ready.append("woken")


w = threading.Thread(target=waiter)
w.start()
time.sleep(0.02)
with cond:
    ready.append("go")
    cond.notify_all()
w.join()
print("condition", ready)

ev = threading.Event()
threading.Timer(0.05, ev.set).start()
t0 = time.monotonic()
print("timer event", ev.wait(5), time.monotonic() - t0 >= 0.04)

local = threading.local()
seen = []


def tls(i):
    local.v = i
    time.sleep(0.01)
    with lock:
        seen.append(local.v == i)


ts = [threading.Thread(target=tls, args=(i,)) for i in range(6)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("thread local", all(seen), len(seen))

# A signal handler runs in the main thread while others work.
got = []
signal.signal(signal.SIGALRM, lambda s, f: got.append(threading.current_thread().name))
signal.setitimer(signal.ITIMER_REAL, 0.05)
bg = threading.Thread(target=work, args=(200000,))
bg.start()
time.sleep(0.3)
bg.join()
print("alarm handled by", got)
print("threads left", threading.active_count())
