// The DNS listener's UDP hot path, native: its own threads read the socket with recvmmsg, answer
// questions already answered once from a table of precomputed wire answers (id rewritten,
// rotations served in turn), and send the batch with one sendmmsg. Everything else (first-time
// questions, malformed packets, forwarding) goes to JavaScript, which answers through send() and
// fills the table with put(). Node 20's dgram costs ~11 µs of CPU per datagram; this costs ~1-2.
//
// JavaScript owns the answers: the table only ever holds what the Answerer built, and forget() /
// clear() follow the registry's changes. Validation mirrors wire.ts's parseQuery exactly, so a
// packet the Answerer would refuse can never be answered from the table.
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int BATCH = 64;
// Larger datagrams are dropped: no DNS query we answer comes near (the OPT's options are small).
constexpr size_t RECV_SIZE = 4096;
// The largest UDP answer we ever send (wire.ts OUR_UDP_SIZE), so the send buffers are fixed.
constexpr size_t SEND_SIZE = 1232;
constexpr size_t MAX_CACHED = 100000;
constexpr size_t MISS_QUEUE = 8192;
constexpr int HEADER = 12;

struct Seeded {
  uint64_t seed;
  using is_transparent = void;
  size_t operator()(std::string_view k) const {
    uint64_t h = seed;
    for (unsigned char c : k) h = (h ^ c) * 0x100000001b3ULL;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

struct Entry {
  std::vector<std::string> orders;
  uint32_t next = 0;
  std::string name;
};

struct Miss {
  std::string bytes;
  std::string address;
  uint16_t port;
};

// The cache key: bits, the size limit (2 bytes), then the question's bytes. Answers depend on
// nothing else in the query but the id.
struct Query {
  int qEnd;
  uint8_t bits;
  uint16_t limit;
};

// wire.ts parseQuery, restricted to the queries the table may answer: false means "let
// JavaScript decide" (a miss), which also covers every rejection and EDNS version ≠ 0.
bool parse(const uint8_t* q, size_t len, Query* out) {
  if (len < HEADER) return false;
  if (q[2] & 0x80) return false;
  if ((q[2] >> 3) & 0x0f) return false;
  int qd = (q[4] << 8) | q[5], an = (q[6] << 8) | q[7], ns = (q[8] << 8) | q[9], ar = (q[10] << 8) | q[11];
  if (qd != 1 || an != 0 || ns != 0 || ar > 1) return false;
  size_t p = HEADER;
  int nameLen = 1;
  for (;;) {
    if (p >= len) return false;
    uint8_t l = q[p];
    if (l == 0) break;
    if (l > 63) return false;
    nameLen += l + 1;
    if (nameLen > 255) return false;
    p += l + 1;
  }
  size_t qEnd = p + 5;
  if (qEnd > len) return false;
  uint8_t bits = (q[2] & 0x01) | ((q[3] & 0x10) ? 2 : 0);
  uint16_t limit = 512;
  if (ar == 0) {
    if (qEnd != len) return false;
  } else {
    if (qEnd + 11 > len || q[qEnd] != 0) return false;
    if (((q[qEnd + 1] << 8) | q[qEnd + 2]) != 41) return false;
    int size = (q[qEnd + 3] << 8) | q[qEnd + 4];
    if (q[qEnd + 6] != 0) return false;  // EDNS version: BADVERS is JavaScript's
    bool dnssecOk = (q[qEnd + 7] & 0x80) != 0;
    size_t rdlen = (q[qEnd + 9] << 8) | q[qEnd + 10];
    if (qEnd + 11 + rdlen != len) return false;
    limit = static_cast<uint16_t>(size < 512 ? 512 : size > 1232 ? 1232 : size);
    bits |= 4 | (dnssecOk ? 8 : 0);
  }
  out->qEnd = static_cast<int>(qEnd);
  out->bits = bits;
  out->limit = limit;
  return true;
}

size_t makeKey(char* key, uint8_t bits, uint16_t limit, const uint8_t* question, size_t qlen) {
  key[0] = static_cast<char>(bits);
  key[1] = static_cast<char>(limit >> 8);
  key[2] = static_cast<char>(limit & 0xff);
  memcpy(key + 3, question, qlen);
  return qlen + 3;
}

class FastPath {
 public:
  FastPath() : cache_(16, Seeded{std::random_device{}() | (uint64_t{std::random_device{}()} << 32)}) {}

  ~FastPath() { stop(); }

  // Binds host:port (0: any free port); returns an error message or empty.
  std::string bind(const std::string& host, uint16_t port) {
    sockaddr_storage ss{};
    socklen_t sl;
    if (!toSockaddr(host, port, &ss, &sl)) return "not an IP address: " + host;
    family_ = ss.ss_family;
    fd_ = socket(family_, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return std::string("socket: ") + strerror(errno);
    int buf = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (family_ == AF_INET6) {
      int only = 1;
      setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
      std::string err = std::string("bind ") + host + ":" + std::to_string(port) + ": " + strerror(errno);
      close(fd_);
      fd_ = -1;
      return err;
    }
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &bl);
    port_ = ntohs(family_ == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return "";
  }

  void start(napi_threadsafe_function misses, int threads) {
    misses_ = misses;
    for (int i = 0; i < threads; i++) threads_.emplace_back([this] { loop(); });
  }

  // Joins the threads, then closes the socket: no thread ever reads a closed (reused) fd.
  void stop() {
    if (stopped_.exchange(true)) return;
    if (wake_ >= 0) {
      uint64_t one = 1;
      ssize_t w = write(wake_, &one, sizeof one);
      (void)w;
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
    if (fd_ >= 0) close(fd_);
    if (wake_ >= 0) close(wake_);
    fd_ = wake_ = -1;
  }

  bool send(const uint8_t* b, size_t len, const std::string& host, uint16_t port) {
    sockaddr_storage ss{};
    socklen_t sl;
    if (fd_ < 0 || port == 0 || !toSockaddr(host, port, &ss, &sl)) return false;
    return sendto(fd_, b, len, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), sl) == static_cast<ssize_t>(len);
  }

  void put(uint8_t bits, uint16_t limit, std::string question, std::string name, std::vector<std::string> orders,
           uint32_t next) {
    if (question.size() > 300 || orders.empty()) return;
    for (auto& o : orders)
      if (o.size() < HEADER || o.size() > SEND_SIZE) return;
    char key[304];
    std::string k(key, makeKey(key, bits, limit, reinterpret_cast<const uint8_t*>(question.data()), question.size()));
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= MAX_CACHED) {
      cache_.clear();
      byName_.clear();
    }
    auto e = std::make_unique<Entry>();
    e->orders = std::move(orders);
    e->next = next;
    e->name = name;
    auto [it, added] = cache_.insert_or_assign(std::move(k), std::move(e));
    if (added) byName_[name].push_back(it->first);
  }

  void forget(const std::vector<std::string>& names) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& n : names) {
      auto it = byName_.find(n);
      if (it == byName_.end()) continue;
      for (auto& k : it->second) cache_.erase(k);
      byName_.erase(it);
    }
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    cache_.clear();
    byName_.clear();
  }

  uint16_t port() const { return port_; }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t missed() const { return missed_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return cache_.size();
  }

 private:
  static bool toSockaddr(const std::string& host, uint16_t port, sockaddr_storage* ss, socklen_t* sl) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      *sl = sizeof *v4;
      return true;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      *sl = sizeof *v6;
      return true;
    }
    return false;
  }

  void loop() {
    // Per thread, allocated once: a batch of receive slots and of replies.
    std::vector<uint8_t> in(BATCH * RECV_SIZE), out(BATCH * SEND_SIZE);
    std::vector<sockaddr_storage> from(BATCH);
    std::vector<iovec> inIov(BATCH), outIov(BATCH);
    std::vector<mmsghdr> rx(BATCH), tx(BATCH);
    char key[RECV_SIZE + 3];
    for (int i = 0; i < BATCH; i++) inIov[i] = {&in[i * RECV_SIZE], RECV_SIZE};
    while (!stopped_.load(std::memory_order_relaxed)) {
      for (int i = 0; i < BATCH; i++) {
        rx[i].msg_hdr = {};
        rx[i].msg_hdr.msg_name = &from[i];
        rx[i].msg_hdr.msg_namelen = sizeof from[i];
        rx[i].msg_hdr.msg_iov = &inIov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(fd_, rx.data(), BATCH, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        // Only a socket that is gone ends the thread; anything else (an error the kernel queued,
        // ENOMEM) is read out with the failed call and serving goes on.
        if (n < 0 && (errno == EBADF || errno == ENOTSOCK || errno == EINVAL)) return;
        pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
        poll(fds, 2, -1);
        continue;
      }
      int replies = 0;
      for (int i = 0; i < n; i++) {
        const uint8_t* q = &in[i * RECV_SIZE];
        size_t len = rx[i].msg_len;
        const msghdr& h = rx[i].msg_hdr;
        if (h.msg_flags & MSG_TRUNC) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        // A forged source port 0 cannot be answered; a response (QR) is never answered.
        uint16_t sport = ntohs(from[i].ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&from[i])->sin_port
                                                            : reinterpret_cast<sockaddr_in6*>(&from[i])->sin6_port);
        if (sport == 0 || len < HEADER || (q[2] & 0x80)) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        Query pq;
        uint8_t* reply = &out[replies * SEND_SIZE];
        size_t replyLen = 0;
        if (parse(q, len, &pq)) {
          std::string_view k(key, makeKey(key, pq.bits, pq.limit, q + HEADER, pq.qEnd - HEADER));
          std::lock_guard<std::mutex> lock(mu_);
          auto it = cache_.find(k);
          if (it != cache_.end()) {
            Entry& e = *it->second;
            const std::string& src = e.orders.size() == 1 ? e.orders[0] : e.orders[e.next++ % e.orders.size()];
            memcpy(reply, src.data(), src.size());
            replyLen = src.size();
          }
        }
        if (replyLen == 0) {
          toJs(q, len, from[i], sport);
          continue;
        }
        reply[0] = q[0];
        reply[1] = q[1];
        outIov[replies] = {reply, replyLen};
        tx[replies].msg_hdr = {};
        tx[replies].msg_hdr.msg_name = &from[i];
        tx[replies].msg_hdr.msg_namelen = h.msg_namelen;
        tx[replies].msg_hdr.msg_iov = &outIov[replies];
        tx[replies].msg_hdr.msg_iovlen = 1;
        replies++;
      }
      hits_.fetch_add(replies, std::memory_order_relaxed);
      for (int sent = 0; sent < replies;) {
        int m = sendmmsg(fd_, tx.data() + sent, replies - sent, 0);
        if (m <= 0) {
          if (m < 0 && errno == EINTR) continue;
          // A reply the kernel refuses (an unreachable asker) is skipped, as dgram's send would.
          sent++;
          continue;
        }
        sent += m;
      }
    }
  }

  void toJs(const uint8_t* q, size_t len, const sockaddr_storage& from, uint16_t port) {
    char addr[INET6_ADDRSTRLEN];
    const void* a = from.ss_family == AF_INET
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&from)->sin_addr)
                        : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&from)->sin6_addr);
    inet_ntop(from.ss_family, a, addr, sizeof addr);
    auto* m = new Miss{std::string(reinterpret_cast<const char*>(q), len), addr, port};
    // A full queue (JavaScript behind) drops the datagram, as a full socket buffer would.
    if (napi_call_threadsafe_function(misses_, m, napi_tsfn_nonblocking) != napi_ok) {
      delete m;
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    missed_.fetch_add(1, std::memory_order_relaxed);
  }

  int fd_ = -1;
  int wake_ = -1;
  int family_ = AF_INET;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::vector<std::thread> threads_;
  napi_threadsafe_function misses_ = nullptr;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Entry>, Seeded, std::equal_to<>> cache_;
  std::unordered_map<std::string, std::vector<std::string>> byName_;
  std::atomic<uint64_t> hits_{0}, missed_{0}, dropped_{0};
};

// ---- JavaScript binding -------------------------------------------------------------------

struct Handle {
  FastPath fp;
  napi_threadsafe_function tsfn = nullptr;
};

#define CHECK(call)                                    \
  do {                                                 \
    if ((call) != napi_ok) {                           \
      napi_throw_error(env, nullptr, "napi: " #call); \
      return nullptr;                                  \
    }                                                  \
  } while (0)

napi_value throwError(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
  return nullptr;
}

bool getString(napi_env env, napi_value v, std::string* out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len);
  return napi_get_value_string_utf8(env, v, out->data(), len + 1, &len) == napi_ok;
}

bool getBytes(napi_env env, napi_value v, std::string* out) {
  void* data;
  size_t len;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return false;
  out->assign(static_cast<const char*>(data), len);
  return true;
}

Handle* unwrap(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  napi_value self;
  void* h = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, &self, nullptr) != napi_ok || argc < want ||
      napi_unwrap(env, self, &h) != napi_ok || h == nullptr) {
    napi_throw_error(env, nullptr, "udp-fastpath: bad call");
    return nullptr;
  }
  return static_cast<Handle*>(h);
}

void deliver(napi_env env, napi_value onMiss, void*, void* data) {
  std::unique_ptr<Miss> m(static_cast<Miss*>(data));
  if (env == nullptr) return;  // the function is being torn down
  napi_value args[3], global;
  napi_create_buffer_copy(env, m->bytes.size(), m->bytes.data(), nullptr, &args[0]);
  napi_create_string_utf8(env, m->address.data(), m->address.size(), &args[1]);
  napi_create_uint32(env, m->port, &args[2]);
  napi_get_global(env, &global);
  napi_call_function(env, global, onMiss, 3, args, nullptr);
}

// Collected without close(): the same, so the miss queue no longer holds the event loop open.
void finalize(napi_env, void* data, void*) {
  auto* h = static_cast<Handle*>(data);
  h->fp.stop();
  if (h->tsfn) napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
  delete h;
}

// new FastPath(host, port, threads, onMiss(msg, address, port))
napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, nullptr));
  if (argc < 4) return throwError(env, "udp-fastpath: new FastPath(host, port, threads, onMiss)");
  std::string host;
  uint32_t port, threads;
  if (!getString(env, argv[0], &host)) return throwError(env, "udp-fastpath: host must be a string");
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535)
    return throwError(env, "udp-fastpath: port must be 0..65535");
  if (napi_get_value_uint32(env, argv[2], &threads) != napi_ok || threads < 1 || threads > 16)
    return throwError(env, "udp-fastpath: threads must be 1..16");
  auto* h = new Handle();
  std::string err = h->fp.bind(host, static_cast<uint16_t>(port));
  if (!err.empty()) {
    delete h;
    return throwError(env, err);
  }
  napi_value name;
  napi_create_string_utf8(env, "dns-udp-miss", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[3], nullptr, name, MISS_QUEUE, 1, nullptr, nullptr, nullptr, deliver,
                                      &h->tsfn) != napi_ok) {
    delete h;
    return throwError(env, "udp-fastpath: cannot create the miss queue");
  }
  if (napi_wrap(env, self, h, finalize, nullptr, nullptr) != napi_ok) {
    napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
    delete h;
    return throwError(env, "udp-fastpath: wrap failed");
  }
  h->fp.start(h->tsfn, static_cast<int>(threads));
  return self;
}

napi_value port(napi_env env, napi_callback_info info) {
  Handle* h = unwrap(env, info, 0, nullptr);
  if (!h) return nullptr;
  napi_value v;
  napi_create_uint32(env, h->fp.port(), &v);
  return v;
}

// send(buf, address, port): whether the kernel took it.
napi_value send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Handle* h = unwrap(env, info, 3, argv);
  if (!h) return nullptr;
  void* data;
  size_t len;
  std::string addr;
  uint32_t p;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || !getString(env, argv[1], &addr) ||
      napi_get_value_uint32(env, argv[2], &p) != napi_ok || p > 65535)
    return throwError(env, "udp-fastpath: send(buf, address, port)");
  napi_value v;
  napi_get_boolean(env, h->fp.send(static_cast<const uint8_t*>(data), len, addr, static_cast<uint16_t>(p)), &v);
  return v;
}

// put(bits, limit, question, name, orders[], next)
napi_value put(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  Handle* h = unwrap(env, info, 6, argv);
  if (!h) return nullptr;
  uint32_t bits, limit, n, next;
  std::string question, name;
  if (napi_get_value_uint32(env, argv[0], &bits) != napi_ok || napi_get_value_uint32(env, argv[1], &limit) != napi_ok ||
      !getBytes(env, argv[2], &question) || !getString(env, argv[3], &name) ||
      napi_get_array_length(env, argv[4], &n) != napi_ok || napi_get_value_uint32(env, argv[5], &next) != napi_ok)
    return throwError(env, "udp-fastpath: put(bits, limit, question, name, orders, next)");
  std::vector<std::string> orders(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value o;
    if (napi_get_element(env, argv[4], i, &o) != napi_ok || !getBytes(env, o, &orders[i]))
      return throwError(env, "udp-fastpath: orders must be Buffers");
  }
  h->fp.put(static_cast<uint8_t>(bits), static_cast<uint16_t>(limit), std::move(question), std::move(name),
            std::move(orders), next);
  return nullptr;
}

napi_value forget(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Handle* h = unwrap(env, info, 1, argv);
  if (!h) return nullptr;
  uint32_t n;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok) return throwError(env, "udp-fastpath: forget(names)");
  std::vector<std::string> names(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok || !getString(env, v, &names[i]))
      return throwError(env, "udp-fastpath: names must be strings");
  }
  h->fp.forget(names);
  return nullptr;
}

napi_value clear(napi_env env, napi_callback_info info) {
  Handle* h = unwrap(env, info, 0, nullptr);
  if (h) h->fp.clear();
  return nullptr;
}

// stats(): { hits, misses, dropped, cached }
napi_value stats(napi_env env, napi_callback_info info) {
  Handle* h = unwrap(env, info, 0, nullptr);
  if (!h) return nullptr;
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_double(env, static_cast<double>(h->fp.hits()), &v);
  napi_set_named_property(env, o, "hits", v);
  napi_create_double(env, static_cast<double>(h->fp.missed()), &v);
  napi_set_named_property(env, o, "misses", v);
  napi_create_double(env, static_cast<double>(h->fp.dropped()), &v);
  napi_set_named_property(env, o, "dropped", v);
  napi_create_double(env, static_cast<double>(h->fp.size()), &v);
  napi_set_named_property(env, o, "cached", v);
  return o;
}

// close(): stops the threads and the socket; pending misses are dropped.
napi_value closeFp(napi_env env, napi_callback_info info) {
  Handle* h = unwrap(env, info, 0, nullptr);
  if (!h) return nullptr;
  h->fp.stop();
  if (h->tsfn) {
    napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
    h->tsfn = nullptr;
  }
  return nullptr;
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"port", nullptr, port, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"send", nullptr, send, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"put", nullptr, put, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"forget", nullptr, forget, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clear", nullptr, clear, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, stats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, closeFp, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value cls;
  CHECK(napi_define_class(env, "FastPath", NAPI_AUTO_LENGTH, construct, nullptr,
                          sizeof methods / sizeof methods[0], methods, &cls));
  CHECK(napi_set_named_property(env, exports, "FastPath", cls));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
