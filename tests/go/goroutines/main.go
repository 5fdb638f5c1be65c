// goroutines: the Go runtime on top of the kernel. The runtime starts threads with clone,
// parks them on futexes, preempts goroutines with SIGURG, catches nil dereferences as
// SIGSEGV and runs its timers and garbage collector on several threads.
//   - goroutines on GOMAXPROCS=2: fan-in over an unbuffered channel, a buffered pipeline
//     closed at the end, select with a timeout and with a ready channel
//   - time.Sleep, time.Ticker, time.AfterFunc, timer Stop
//   - sync.WaitGroup, sync.Mutex, sync/atomic, sync.RWMutex, sync.Once, sync.Cond
//   - a nil pointer dereference recovered (also inside another goroutine)
//   - runtime.GC() under allocation load: ~200 MB in small slices over 4 goroutines, with a
//     checksum of what was written
//   - asynchronous preemption: on GOMAXPROCS=1 a goroutine spinning in a loop without calls
//     must not keep the sleeping main goroutine from running again
//
// Prints totals and ok lines only; a failed check prints FAIL, a line on stderr, exit status 1.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var failures int

func check(what string, ok bool) {
	if ok {
		fmt.Printf("%s: ok\n", what)
		return
	}
	fmt.Printf("%s: FAIL\n", what)
	fmt.Fprintf(os.Stderr, "FAIL: %s\n", what)
	failures++
}

func checkValue(what string, got, want int64) {
	fmt.Printf("%s %d\n", what, got)
	if got != want {
		fmt.Fprintf(os.Stderr, "FAIL: %s: got %d, expected %d\n", what, got, want)
		failures++
	}
}

func channels() {
	const goroutines, per = 64, 10000
	results := make(chan int64) // unbuffered
	for g := 0; g < goroutines; g++ {
		go func(g int) {
			var s int64
			for i := g * per; i < (g+1)*per; i++ {
				s += int64(i % 977)
			}
			results <- s
		}(g)
	}
	var total, want int64
	for g := 0; g < goroutines; g++ {
		total += <-results
	}
	for i := 0; i < goroutines*per; i++ {
		want += int64(i % 977)
	}
	checkValue("unbuffered channel: 64 goroutines' sums", total, want)

	src, squares := make(chan int64, 16), make(chan int64, 16)
	go func() {
		for i := int64(1); i <= 1000; i++ {
			src <- i
		}
		close(src)
	}()
	go func() {
		for v := range src {
			squares <- v * v
		}
		close(squares)
	}()
	var sum int64
	for v := range squares {
		sum += v
	}
	checkValue("buffered channel pipeline: sum of squares 1..1000", sum, 333833500)

	never := make(chan int)
	start := time.Now()
	timedOut := false
	select {
	case <-never:
	case <-time.After(30 * time.Millisecond):
		timedOut = true
	}
	check("select with a 30 ms time.After: times out, not early", timedOut && time.Since(start) >= 30*time.Millisecond)

	ready := make(chan int, 1)
	ready <- 7
	got := 0
	select {
	case v := <-ready:
		got = v
	case <-time.After(10 * time.Second):
	}
	checkValue("select takes the ready channel", int64(got), 7)
}

func timers() {
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	check("time.Sleep 20 ms, not early", time.Since(start) >= 20*time.Millisecond)

	start = time.Now()
	ticker := time.NewTicker(10 * time.Millisecond)
	ticks := 0
	for range ticker.C {
		ticks++
		if ticks == 5 {
			break
		}
	}
	ticker.Stop()
	checkValue("time.Ticker every 10 ms: ticks", int64(ticks), 5)
	check("5 ticks take at least 50 ms", time.Since(start) >= 50*time.Millisecond)

	fired := make(chan bool)
	time.AfterFunc(10*time.Millisecond, func() { fired <- true })
	check("time.AfterFunc runs", <-fired)
	t := time.NewTimer(time.Hour)
	check("Timer.Stop before it fires", t.Stop())
}

func syncPrimitives() {
	const goroutines, iters = 16, 20000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var atomicCount int64
	count := 0
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				mu.Lock()
				count++
				mu.Unlock()
				atomic.AddInt64(&atomicCount, 1)
			}
		}()
	}
	wg.Wait()
	checkValue("sync.Mutex counter", int64(count), goroutines*iters)
	checkValue("sync/atomic counter", atomic.LoadInt64(&atomicCount), goroutines*iters)

	var rw sync.RWMutex
	a, b := 0, 0
	var torn int64
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				rw.Lock()
				a++
				if i%100 == 0 {
					runtime.Gosched()
				}
				b++
				rw.Unlock()
			}
		}()
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				rw.RLock()
				if a != b {
					atomic.AddInt64(&torn, 1)
				}
				rw.RUnlock()
			}
		}()
	}
	wg.Wait()
	checkValue("sync.RWMutex writes", int64(a), 10000)
	checkValue("sync.RWMutex readers saw a half-done write", torn, 0)

	var once sync.Once
	var onceRuns int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			once.Do(func() { atomic.AddInt64(&onceRuns, 1) })
		}()
	}
	wg.Wait()
	checkValue("sync.Once runs", onceRuns, 1)

	cond := sync.NewCond(&mu)
	waiting, released := 0, 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			waiting++
			cond.Broadcast() // tell the main goroutine
			for released == 0 {
				cond.Wait()
			}
			mu.Unlock()
		}()
	}
	mu.Lock()
	for waiting < 8 {
		cond.Wait()
	}
	released = 1
	cond.Broadcast()
	mu.Unlock()
	wg.Wait()
	checkValue("sync.Cond: goroutines released by Broadcast", int64(waiting), 8)
}

type node struct{ value int }

//go:noinline
func nilNode() *node { return nil }

func dereferenceNil() (message string) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok {
				message = err.Error()
			} else {
				message = fmt.Sprint(r)
			}
		}
	}()
	n := nilNode()
	n.value = 1
	return "no panic"
}

func panics() {
	fmt.Printf("recovered: %s\n", dereferenceNil())
	done := make(chan string)
	go func() { done <- dereferenceNil() }()
	msg := <-done
	check("nil dereference recovered in another goroutine",
		msg == "runtime error: invalid memory address or nil pointer dereference")
}

func garbage() {
	const workers, slices, size = 4, 50000, 1024 // 4 x 50000 x 1 KiB = ~200 MB
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sums := make([]uint64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			keep := make([][]byte, 0, 256)
			var sum uint64
			for i := 0; i < slices; i++ {
				b := make([]byte, size)
				for j := range b {
					b[j] = byte(i*7 + j + w)
				}
				keep = append(keep, b)
				if len(keep) == cap(keep) {
					for _, k := range keep {
						sum += uint64(k[i%size]) + uint64(k[size-1])
					}
					keep = keep[:0] // dropped: garbage for the collector
				}
			}
			sums[w] = sum
		}(w)
	}
	wg.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	var total uint64
	for _, s := range sums {
		total += s
	}
	fmt.Printf("allocation checksum %d\n", total)
	check("the collector ran during the allocation load", after.NumGC-before.NumGC >= 2)
	check("about 200 MB allocated in total", after.TotalAlloc-before.TotalAlloc >= 200_000_000)
	check("the live heap is small after runtime.GC()", after.HeapAlloc < 64<<20)
}

func preemption() {
	runtime.GOMAXPROCS(1)
	started := make(chan bool)
	go func() {
		started <- true
		for i := 0; ; i++ { // no calls: only asynchronous preemption can stop it
			if i == 1<<62 {
				break
			}
		}
	}()
	<-started
	time.Sleep(50 * time.Millisecond)
	fmt.Println("preempted ok")
}

func main() {
	runtime.GOMAXPROCS(2)
	channels()
	timers()
	syncPrimitives()
	panics()
	garbage()
	if failures > 0 {
		fmt.Printf("%d checks failed\n", failures)
		os.Exit(1)
	}
	// Last: the spinning goroutine stays behind until the program exits.
	preemption()
	fmt.Println("all goroutine checks passed")
}
