// Fast tile-stream harness for a qaccel array top (qaccel/rtl/fastsim.py builds and runs it).
//
// Generic over families and sizes: it is compiled against the Verilated top (class Vfast,
// header "Vfast.h"; -DQACCEL_META=1 when the top has the m_* stream) and reads everything
// else from its input file. It drives the ports exactly as the cocotb bench does
// (qaccel/rtl/tb/: TileDriver.load/start, DoneMonitor.collect, ResultMonitor.drain with
// gap = stall = 0), so the edge numbers, per-tile cycles and result beats are the same (each
// clock cycle is one eval(), its rising edge; see Edge below):
//
//   reset  rst high for edges 0 and 1 (the bench's CocotbPins.start), o_ready high.
//   LOAD   at each settled point (after a rising edge) every stream with beats left sets
//          valid/data/last; a beat moves at the next rising edge if ready was high.
//   start  one cycle high; the edge that samples it is the batch's start edge.
//   RUN    wait for one rising edge of `done` per tile; record (cycles port, edges since
//          the previous done or the start edge).
//   DRAIN  from the settled point of the last done's edge, take one o_* beat per settled
//          point where o_valid is high (it moves at the next edge), until the batch's rows
//          are in; one more edge, then the next batch's LOAD.
//
// Input (little-endian uint32 words): magic 'QFSI', version 1, streams (2 or 3), the word
// count of w_data, a_data, m_data (0 without metadata), o_data, batches; then per batch:
// tiles, result rows, done limit, drain limit, load limit, then per stream (w, a[, m]):
// beats, and beats x (data words..., last). INPUT "-" is standard input, read a batch at a
// time as the harness reaches it (so the writer may still be preparing later batches); a
// batch of 0 tiles (no more words) ends the input before the batch count (a streamed input
// gives 2^32 - 1).
// Output (same encoding): magic 'QFSO', status (0 ok, 1 timeout), first edge, last edge,
// batches recorded; per batch: start edge, dones, beats, dones x (cycles, measured),
// beats x (o_data words..., o_last). stdout: one JSON line (status, message, edges,
// run_cycles, run_ns, loop_ns); with OUTPUT "-", the output words go to stdout and the JSON
// line to stderr.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "Vfast.h"
#include "Vfast___024root.h"
#include "verilated.h"

namespace {

using Words = std::vector<uint32_t>;

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "fastsim: %s\n", message.c_str());
    std::exit(2);
}

// Input words, read as the harness needs them (a batch at a time) with read(2), which
// returns what a pipe holds, so that the writer may still be preparing later batches.
struct Reader {
    int fd;
    Words buf = Words(16384);
    size_t pos = 0, end = 0, bytes = 0;  // next word, words available, bytes in buf
    uint32_t next() {
        if (pos == end) refill();
        return buf[pos++];
    }
    void refill() {
        char* raw = reinterpret_cast<char*>(buf.data());
        const size_t tail = bytes - end * 4;  // a partial word's bytes
        std::memmove(raw, raw + end * 4, tail);
        bytes = tail;
        pos = end = 0;
        while (bytes < 4) {
            const ssize_t n = ::read(fd, raw + bytes, buf.size() * 4 - bytes);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) die("input file is truncated");
            bytes += static_cast<size_t>(n);
        }
        end = bytes / 4;
    }
};

int open_input(const char* path) {
    if (std::string(path) == "-") return 0;
    const int fd = ::open(path, O_RDONLY);
    if (fd < 0) die(std::string("cannot open ") + path);
    return fd;
}

// One eval per clock cycle: the rising edge with the cycle's inputs. Verilator evaluates the
// input-driven logic first in every eval(), so the falling-edge eval of the plain two-eval
// cycle only repeats that work (the tops have no negedge logic). Verilator fires an edge
// when clk differs from its record of the last clk it saw; that record is a member of the
// model's root (__Vtrigprevexpr___TOP__clk__0 in Verilator 5), cleared here to mark a rising
// edge. Where the member is absent, or with -DQACCEL_TWO_EVALS (for measurements), two evals
// per cycle (found at compile time).
template <typename R, typename = void> struct Edge {
    static constexpr bool one_eval = false;
    static void arm(R&) {}
};
#ifndef QACCEL_TWO_EVALS
template <typename R>
struct Edge<R, std::void_t<decltype(std::declval<R&>().__Vtrigprevexpr___TOP__clk__0)>> {
    static constexpr bool one_eval = true;
    static void arm(R& root) { root.__Vtrigprevexpr___TOP__clk__0 = 0; }
};
#endif

// Ports of up to 64 bits are integers; wider ones are VlWide<N> (N 32-bit words).
template <typename T> int words_of(const T&) { return sizeof(T) > 4 ? 2 : 1; }
template <std::size_t N> int words_of(const VlWide<N>&) { return static_cast<int>(N); }

template <typename T> void put(T& port, const uint32_t* w, int n) {
    uint64_t v = w[0];
    if (n > 1) v |= static_cast<uint64_t>(w[1]) << 32;
    port = static_cast<T>(v);
}
template <std::size_t N> void put(VlWide<N>& port, const uint32_t* w, int) {
    for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}
template <typename T> void get(const T& port, uint32_t* w, int n) {
    const uint64_t v = port;
    w[0] = static_cast<uint32_t>(v);
    if (n > 1) w[1] = static_cast<uint32_t>(v >> 32);
}
template <std::size_t N> void get(const VlWide<N>& port, uint32_t* w, int) {
    for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}

struct Stream {
    int words = 0;
    Words data;                 // beats x words
    std::vector<uint8_t> last;  // beats
    size_t pos = 0;
    size_t beats() const { return last.size(); }
    bool pending() const { return pos < last.size(); }
    const uint32_t* word() const { return data.data() + pos * words; }
};

struct Harness {
    Vfast* top;
    int64_t edge = -1;  // number of the last rising edge passed
    bool prev_done = false, done_rose = false;

    // From one settled point to the next: the falling half, then the rising edge.
    void tick() {
        using Root = std::remove_reference_t<decltype(*top->rootp)>;
        if constexpr (Edge<Root>::one_eval) {
            top->clk = 1;
            Edge<Root>::arm(*top->rootp);
            top->eval();
        } else {
            top->clk = 0;
            top->eval();
            top->clk = 1;
            top->eval();
        }
        ++edge;
        const bool d = top->done;
        done_rose = d && !prev_done;
        prev_done = d;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) die("usage: fastsim INPUT OUTPUT");
    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vfast>(ctx.get());
    Harness h{top.get()};
    Reader in{open_input(argv[1])};
    if (in.next() != 0x49534651u) die("input file does not start with QFSI");
    if (in.next() != 1) die("input file version must be 1");
    const int streams = static_cast<int>(in.next());
    int w_words = in.next(), a_words = in.next(), m_words = in.next(), o_words = in.next();
    const uint32_t batches = in.next();
#if QACCEL_META
    const int want_streams = 3, want_m = words_of(top->m_data);
#else
    const int want_streams = 2, want_m = 0;
#endif
    if (streams != want_streams || w_words != words_of(top->w_data) ||
        a_words != words_of(top->a_data) || m_words != want_m ||
        o_words != words_of(top->o_data))
        die("input file's port widths do not match this build");

    Words out{0x4F534651u, 0, 0, 0, 0};
    std::string message;
    uint64_t run_cycles = 0, run_ns = 0;
    using clock = std::chrono::steady_clock;
    const auto t_loop = clock::now();

    // reset, as CocotbPins.start: rst sampled high by edges 0 and 1
    top->clk = 0;
    top->rst = 1;
    top->eval();
    h.tick();
    h.tick();
    top->rst = 0;
    top->o_ready = 1;
    top->start = 0;
    top->w_valid = top->a_valid = 0;
#if QACCEL_META
    top->m_valid = 0;
#endif
    const int64_t first_edge = h.edge;
    uint32_t recorded = 0;
    bool failed = false;
    for (uint32_t b = 0; b < batches && !failed; ++b) {
        const uint32_t tiles = in.next();
        if (tiles == 0) break;  // the end of a streamed input (its batch count is 2^32 - 1)
        const uint32_t rows = in.next(), done_limit = in.next(), drain_limit = in.next(),
                       load_limit = in.next();
        Stream s[3];
        for (int i = 0; i < streams; ++i) {
            s[i].words = i == 0 ? w_words : i == 1 ? a_words : m_words;
            const uint32_t beats = in.next();
            s[i].data.resize(static_cast<size_t>(beats) * s[i].words);
            s[i].last.resize(beats);
            for (uint32_t k = 0; k < beats; ++k) {
                for (int j = 0; j < s[i].words; ++j) s[i].data[k * s[i].words + j] = in.next();
                s[i].last[k] = static_cast<uint8_t>(in.next());
            }
        }
        // LOAD
        for (uint32_t cycle = 0; s[0].pending() || s[1].pending() || s[2].pending(); ++cycle) {
            if (cycle >= load_limit) {
                message = "load did not finish within " + std::to_string(load_limit) + " cycles";
                failed = true;
                break;
            }
            bool moving[3] = {false, false, false};
            top->w_valid = s[0].pending();
            if (s[0].pending()) {
                put(top->w_data, s[0].word(), w_words);
                top->w_last = s[0].last[s[0].pos];
                moving[0] = top->w_ready;
            }
            top->a_valid = s[1].pending();
            if (s[1].pending()) {
                put(top->a_data, s[1].word(), a_words);
                top->a_last = s[1].last[s[1].pos];
                moving[1] = top->a_ready;
            }
#if QACCEL_META
            top->m_valid = s[2].pending();
            if (s[2].pending()) {
                put(top->m_data, s[2].word(), m_words);
                top->m_last = s[2].last[s[2].pos];
                moving[2] = top->m_ready;
            }
#endif
            h.tick();
            for (int i = 0; i < 3; ++i) s[i].pos += moving[i];
        }
        top->w_valid = top->a_valid = 0;
#if QACCEL_META
        top->m_valid = 0;
#endif
        if (failed) break;
        // start
        const auto t_run = clock::now();
        top->start = 1;
        const int64_t start_edge = h.edge + 1;
        h.tick();
        top->start = 0;
        const size_t head = out.size();
        out.insert(out.end(), {static_cast<uint32_t>(start_edge), 0, 0});
        ++recorded;
        // RUN: one done per tile
        Words beats;
        int64_t previous = start_edge;
        uint32_t dones = 0;
        for (; dones < tiles; ++dones) {
            uint32_t waited = 0;
            do {
                h.tick();
            } while (!h.done_rose && ++waited < done_limit);
            if (!h.done_rose) {
                message = "done did not rise within " + std::to_string(done_limit) + " cycles";
                failed = true;
                break;
            }
            out.push_back(top->cycles);
            out.push_back(static_cast<uint32_t>(h.edge - previous));
            previous = h.edge;
        }
        run_cycles += static_cast<uint64_t>(previous - start_edge);
        run_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t_run)
                      .count();
        out[head + 1] = dones;
        // DRAIN
        uint32_t taken = 0;
        if (!failed) {
            bool complete = false;
            std::vector<uint32_t> word(o_words);
            for (uint32_t i = 0; i < drain_limit; ++i) {
                if (i > 0) h.tick();
                if (taken == rows) {
                    complete = true;
                    break;
                }
                if (top->o_valid) {
                    get(top->o_data, word.data(), o_words);
                    beats.insert(beats.end(), word.begin(), word.end());
                    beats.push_back(top->o_last);
                    ++taken;
                }
            }
            if (!complete) {
                message = "drained " + std::to_string(taken) + " of " + std::to_string(rows) +
                          " result rows in " + std::to_string(drain_limit) + " cycles";
                failed = true;
            }
        }
        out[head + 2] = taken;
        out.insert(out.end(), beats.begin(), beats.end());
    }
    const uint64_t loop_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t_loop).count();
    top->final();
    out[1] = failed ? 1 : 0;
    out[2] = static_cast<uint32_t>(first_edge);
    out[3] = static_cast<uint32_t>(h.edge);
    out[4] = recorded;
    // OUTPUT "-": the words on standard output and the JSON line on standard error
    const bool piped = std::string(argv[2]) == "-";
    FILE* f = piped ? stdout : std::fopen(argv[2], "wb");
    if (!f || std::fwrite(out.data(), 4, out.size(), f) != out.size()) die("cannot write output");
    if (piped ? std::fflush(f) != 0 : std::fclose(f) != 0) die("cannot write output");
    std::fprintf(piped ? stderr : stdout,
                 "{\"status\": %d, \"message\": \"%s\", \"first_edge\": %lld, "
                 "\"last_edge\": %lld, \"run_cycles\": %llu, \"run_ns\": %llu, "
                 "\"loop_ns\": %llu}\n",
                 failed ? 1 : 0, message.c_str(), static_cast<long long>(first_edge),
                 static_cast<long long>(h.edge), static_cast<unsigned long long>(run_cycles),
                 static_cast<unsigned long long>(run_ns),
                 static_cast<unsigned long long>(loop_ns));
    return 0;
}
