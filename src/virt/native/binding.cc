// vdsm-ts's own libvirt binding: a small N-API addon over libvirt's C API.
// Every call that can block runs on the libuv thread pool and settles a promise; domains are addressed by
// UUID string, so no libvirt object ever crosses into JavaScript. Lifecycle events come from libvirt's
// default event loop, run on a thread of its own, and reach JavaScript through thread-safe functions.
#include <napi.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct VirtError {
  int code = -1;
  int domain = 0;
  std::string message;
};

// Must run on the thread that made the failing call: libvirt keeps the last error per thread.
VirtError LastError(const char* fallback) {
  VirtError e;
  virErrorPtr err = virGetLastError();
  if (err != nullptr) {
    e.code = err->code;
    e.domain = err->domain;
    e.message = err->message != nullptr ? err->message : fallback;
  } else {
    e.message = fallback;
  }
  virResetLastError();
  return e;
}

Napi::Error ToJsError(Napi::Env env, const VirtError& e) {
  Napi::Error error = Napi::Error::New(env, e.message);
  error.Set("libvirtCode", Napi::Number::New(env, e.code));
  error.Set("libvirtDomain", Napi::Number::New(env, e.domain));
  return error;
}

// Set when Node tears the environment down: thread-safe functions are then finalized by Node itself, and
// touching them (or closing connections, which releases them) would abort the process.
std::atomic<bool> exiting{false};

double MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// libvirt prints every error to stderr by default; errors reach JavaScript as rejections instead.
void QuietErrors(void*, virErrorPtr) {}

std::once_flag eventLoopStarted;
void StartEventLoop() {
  std::call_once(eventLoopStarted, [] {
    virInitialize();
    virSetErrorFunc(nullptr, QuietErrors);
    virEventRegisterDefaultImpl();
    std::thread([] {
      for (;;) {
        if (virEventRunDefaultImpl() < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }).detach();
  });
}

using Build = std::function<Napi::Value(Napi::Env)>;
using Job = std::function<Build()>;

// Runs `job` off the JS thread; its result (a builder of the JS value) settles the promise on the JS thread.
class JobWorker : public Napi::AsyncWorker {
 public:
  JobWorker(Napi::Env env, Job job) : Napi::AsyncWorker(env), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      build_ = job_();
    } catch (const VirtError& e) {
      error_ = e;
      failed_ = true;
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (failed_) {
      deferred_.Reject(ToJsError(Env(), error_).Value());
    } else {
      deferred_.Resolve(build_(Env()));
    }
  }

 private:
  Job job_;
  Build build_;
  VirtError error_;
  bool failed_ = false;
  Napi::Promise::Deferred deferred_;
};

Napi::Promise Schedule(Napi::Env env, Job job) {
  auto* worker = new JobWorker(env, std::move(job));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Promise RejectNow(Napi::Env env, const std::string& message) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(ToJsError(env, VirtError{-1, 0, message}).Value());
  return deferred.Promise();
}

Build Undefined() {
  return [](Napi::Env env) { return env.Undefined(); };
}

struct DomainSummary {
  std::string uuid;
  std::string name;
  int id = -1;
  int state = 0;
  int reason = 0;
  bool persistent = false;
};

class Domain {
 public:
  explicit Domain(virDomainPtr d) : d_(d) {}
  ~Domain() {
    if (d_ != nullptr) virDomainFree(d_);
  }
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;
  virDomainPtr get() const { return d_; }

  static Domain ByUuid(virConnectPtr conn, const std::string& uuid) {
    virDomainPtr d = virDomainLookupByUUIDString(conn, uuid.c_str());
    if (d == nullptr) throw LastError("domain not found");
    return Domain(d);
  }
  Domain(Domain&& other) noexcept : d_(std::exchange(other.d_, nullptr)) {}


 private:
  virDomainPtr d_;
};

DomainSummary Summarize(virDomainPtr d) {
  DomainSummary s;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(d, uuid) < 0) throw LastError("cannot read the domain UUID");
  s.uuid = uuid;
  const char* name = virDomainGetName(d);
  s.name = name != nullptr ? name : "";
  unsigned int id = virDomainGetID(d);
  s.id = id == static_cast<unsigned int>(-1) ? -1 : static_cast<int>(id);
  if (virDomainGetState(d, &s.state, &s.reason, 0) < 0) throw LastError("cannot read the domain state");
  s.persistent = virDomainIsPersistent(d) == 1;
  return s;
}

Napi::Object SummaryToJs(Napi::Env env, const DomainSummary& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("uuid", s.uuid);
  o.Set("name", s.name);
  o.Set("id", s.id);
  o.Set("state", s.state);
  o.Set("reason", s.reason);
  o.Set("persistent", s.persistent);
  return o;
}

Build SummaryBuild(DomainSummary s) {
  return [s = std::move(s)](Napi::Env env) -> Napi::Value { return SummaryToJs(env, s); };
}

struct TypedValue {
  std::string field;
  int type;
  double number;
  std::string text;
};

std::vector<TypedValue> CopyParams(virTypedParameterPtr params, int n) {
  std::vector<TypedValue> out;
  out.reserve(n);
  for (int i = 0; i < n; i++) {
    const virTypedParameter& p = params[i];
    TypedValue v{p.field, p.type, 0, {}};
    switch (p.type) {
      case VIR_TYPED_PARAM_INT: v.number = p.value.i; break;
      case VIR_TYPED_PARAM_UINT: v.number = p.value.ui; break;
      case VIR_TYPED_PARAM_LLONG: v.number = static_cast<double>(p.value.l); break;
      case VIR_TYPED_PARAM_ULLONG: v.number = static_cast<double>(p.value.ul); break;
      case VIR_TYPED_PARAM_DOUBLE: v.number = p.value.d; break;
      case VIR_TYPED_PARAM_BOOLEAN: v.number = p.value.b; break;
      case VIR_TYPED_PARAM_STRING: v.text = p.value.s != nullptr ? p.value.s : ""; break;
      default: continue;
    }
    out.push_back(std::move(v));
  }
  return out;
}

struct DomainStats {
  std::string uuid;
  std::string name;
  std::vector<TypedValue> values;
};

// Holds a thread-safe function for one libvirt callback registration; libvirt frees it once unregistered.
struct CallbackSlot {
  Napi::ThreadSafeFunction tsfn;
};

struct LifecycleEvent {
  std::string uuid;
  std::string name;
  int event;
  int detail;
  double at;
};

int OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
  if (exiting) return 0;
  double at = MonotonicMs();
  auto* slot = static_cast<CallbackSlot*>(opaque);
  char uuid[VIR_UUID_STRING_BUFLEN] = "";
  virDomainGetUUIDString(dom, uuid);
  const char* name = virDomainGetName(dom);
  auto* data = new LifecycleEvent{uuid, name != nullptr ? name : "", event, detail, at};
  napi_status status = slot->tsfn.NonBlockingCall(data, [](Napi::Env env, Napi::Function js, LifecycleEvent* e) {
    if (env != nullptr && js != nullptr) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("uuid", e->uuid);
      o.Set("name", e->name);
      o.Set("event", e->event);
      o.Set("detail", e->detail);
      o.Set("at", e->at);
      js.Call({o});
    }
    delete e;
  });
  if (status != napi_ok) delete data;
  return 0;
}

void OnConnectionClosed(virConnectPtr, int reason, void* opaque) {
  if (exiting) return;
  auto* slot = static_cast<CallbackSlot*>(opaque);
  slot->tsfn.NonBlockingCall(new int(reason), [](Napi::Env env, Napi::Function js, int* r) {
    if (env != nullptr && js != nullptr) js.Call({Napi::Number::New(env, *r)});
    delete r;
  });
}

void FreeSlot(void* opaque) {
  if (exiting) return;  // Node has finalized the function already; the process is ending.
  auto* slot = static_cast<CallbackSlot*>(opaque);
  slot->tsfn.Release();
  delete slot;
}

// A connection as the open worker leaves it: callbacks registered, keepalive set.
struct Opened {
  virConnectPtr conn;
  int lifecycleId;
  bool closeRegistered;
};

// Removes our callbacks (libvirt then frees each slot, releasing its thread-safe function) and closes.
// Talks to libvirtd on remote connections: never on the JS thread.
void Disconnect(const Opened& o) {
  if (o.lifecycleId >= 0) virConnectDomainEventDeregisterAny(o.conn, o.lifecycleId);
  if (o.closeRegistered) virConnectUnregisterCloseCallback(o.conn, OnConnectionClosed);
  virConnectClose(o.conn);
}

class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::FunctionReference* constructor;

  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Connection",
                       {
                           InstanceMethod("close", &Connection::Close),
                           InstanceMethod("listDomains", &Connection::ListDomains),
                           InstanceMethod("lookup", &Connection::Lookup),
                           InstanceMethod("xml", &Connection::Xml),
                           InstanceMethod("define", &Connection::Define),
                           InstanceMethod("undefine", &Connection::Undefine),
                           InstanceMethod("createXml", &Connection::CreateXml),
                           InstanceMethod("start", &Connection::Start),
                           InstanceMethod("destroy", &Connection::Destroy),
                           InstanceMethod("shutdown", &Connection::Shutdown),
                           InstanceMethod("suspend", &Connection::Suspend),
                           InstanceMethod("resume", &Connection::Resume),
                           InstanceMethod("info", &Connection::Info),
                           InstanceMethod("allDomainStats", &Connection::AllDomainStats),
                       });
  }

  explicit Connection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Connection>(info) {
    Opened* o = info[0].As<Napi::External<Opened>>().Data();
    opened_ = *o;
    conn_ = o->conn;
    delete o;
  }

  ~Connection() override {
    // Forgotten without close(): let libvirt go on another thread, the event thread stops calling into us.
    if (conn_ == nullptr || exiting) return;
    std::thread([o = opened_] { Disconnect(o); }).detach();
  }

  // open(uri, onLifecycle, onClose) -> Promise<Connection>. The callbacks never keep Node alive.
  static Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsFunction() || !info[2].IsFunction()) {
      return RejectNow(env, "open(uri, onLifecycle, onClose): a string and two functions");
    }
    std::string uri = info[0].As<Napi::String>();
    auto* lifecycle = new CallbackSlot{Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "libvirt-lifecycle", 0, 1)};
    auto* closed = new CallbackSlot{Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "libvirt-close", 0, 1)};
    lifecycle->tsfn.Unref(env);
    closed->tsfn.Unref(env);
    return Schedule(env, [uri, lifecycle, closed]() -> Build {
      Opened o{virConnectOpen(uri.c_str()), -1, false};
      if (o.conn == nullptr) {
        VirtError e = LastError("cannot open the libvirt connection");
        FreeSlot(lifecycle);
        FreeSlot(closed);
        throw e;
      }
      o.lifecycleId = virConnectDomainEventRegisterAny(o.conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle), lifecycle, FreeSlot);
      if (o.lifecycleId < 0) {
        VirtError e = LastError("cannot register for lifecycle events");
        FreeSlot(lifecycle);
        FreeSlot(closed);
        Disconnect(o);
        throw e;
      }
      o.closeRegistered = virConnectRegisterCloseCallback(o.conn, OnConnectionClosed, closed, FreeSlot) == 0;
      if (!o.closeRegistered) FreeSlot(closed);
      // Remote drivers notice a dead daemon by keepalive; local ones answer -1, which is fine.
      if (virConnectSetKeepAlive(o.conn, 5, 3) < -1) {
        VirtError e = LastError("cannot set keepalive");
        Disconnect(o);
        throw e;
      }
      virResetLastError();
      return [o](Napi::Env env) -> Napi::Value { return constructor->New({Napi::External<Opened>::New(env, new Opened(o))}); };
    });
  }

 private:
  virConnectPtr conn_ = nullptr;
  Opened opened_{nullptr, -1, false};

  bool Closed(const Napi::CallbackInfo& info, Napi::Promise* rejected) {
    if (conn_ != nullptr) return false;
    *rejected = RejectNow(info.Env(), "the libvirt connection is closed");
    return true;
  }

  static std::string Arg(const Napi::CallbackInfo& info, size_t i) {
    return info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string();
  }
  static unsigned int Flags(const Napi::CallbackInfo& info, size_t i) {
    return info[i].IsNumber() ? info[i].As<Napi::Number>().Uint32Value() : 0;
  }

  // Runs `op` on the domain named by UUID in argument 0.
  Napi::Value OnDomain(const Napi::CallbackInfo& info, std::function<Build(virDomainPtr)> op) {
    Napi::Promise rejected;
    if (Closed(info, &rejected)) return rejected;
    virConnectPtr conn = conn_;
    virConnectRef(conn);
    std::string uuid = Arg(info, 0);
    return Schedule(info.Env(), [conn, uuid, op]() -> Build {
      std::unique_ptr<virConnect, int (*)(virConnectPtr)> hold(conn, virConnectClose);
      Domain d = Domain::ByUuid(conn, uuid);
      return op(d.get());
    });
  }

  static Build Check(int rc, const char* what) {
    if (rc < 0) throw LastError(what);
    return Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (conn_ == nullptr) return Schedule(info.Env(), [] { return Undefined(); });
    conn_ = nullptr;
    return Schedule(info.Env(), [o = opened_] {
      Disconnect(o);
      return Undefined();
    });
  }

  Napi::Value ListDomains(const Napi::CallbackInfo& info) {
    Napi::Promise rejected;
    if (Closed(info, &rejected)) return rejected;
    virConnectPtr conn = conn_;
    virConnectRef(conn);
    return Schedule(info.Env(), [conn]() -> Build {
      std::unique_ptr<virConnect, int (*)(virConnectPtr)> hold(conn, virConnectClose);
      virDomainPtr* doms = nullptr;
      int n = virConnectListAllDomains(conn, &doms, 0);
      if (n < 0) throw LastError("cannot list domains");
      std::vector<DomainSummary> list;
      for (int i = 0; i < n; i++) {
        Domain d(doms[i]);
        try {
          list.push_back(Summarize(d.get()));
        } catch (const VirtError&) {
          // Vanished between listing and reading: not an error for a list.
        }
      }
      free(doms);
      return [list = std::move(list)](Napi::Env env) -> Napi::Value {
        Napi::Array a = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); i++) a.Set(i, SummaryToJs(env, list[i]));
        return a;
      };
    });
  }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    return OnDomain(info, [](virDomainPtr d) { return SummaryBuild(Summarize(d)); });
  }

  Napi::Value Xml(const Napi::CallbackInfo& info) {
    unsigned int flags = Flags(info, 1);
    return OnDomain(info, [flags](virDomainPtr d) -> Build {
      char* xml = virDomainGetXMLDesc(d, flags);
      if (xml == nullptr) throw LastError("cannot read the domain XML");
      std::string text(xml);
      free(xml);
      return [text](Napi::Env env) -> Napi::Value { return Napi::String::New(env, text); };
    });
  }

  // Runs `make` (which returns a new domain, or null on failure) on the XML in argument 0.
  Napi::Value FromXml(const Napi::CallbackInfo& info, std::function<virDomainPtr(virConnectPtr, const std::string&)> make) {
    Napi::Promise rejected;
    if (Closed(info, &rejected)) return rejected;
    virConnectPtr conn = conn_;
    virConnectRef(conn);
    std::string xml = Arg(info, 0);
    return Schedule(info.Env(), [conn, xml, make]() -> Build {
      std::unique_ptr<virConnect, int (*)(virConnectPtr)> hold(conn, virConnectClose);
      virDomainPtr d = make(conn, xml);
      if (d == nullptr) throw LastError("libvirt refused the domain XML");
      Domain owned(d);
      return SummaryBuild(Summarize(owned.get()));
    });
  }

  Napi::Value Define(const Napi::CallbackInfo& info) {
    return FromXml(info, [](virConnectPtr c, const std::string& xml) { return virDomainDefineXML(c, xml.c_str()); });
  }

  Napi::Value CreateXml(const Napi::CallbackInfo& info) {
    unsigned int flags = Flags(info, 1);
    return FromXml(info, [flags](virConnectPtr c, const std::string& xml) { return virDomainCreateXML(c, xml.c_str(), flags); });
  }

  Napi::Value Undefine(const Napi::CallbackInfo& info) {
    unsigned int flags = Flags(info, 1);
    return OnDomain(info, [flags](virDomainPtr d) { return Check(virDomainUndefineFlags(d, flags), "cannot undefine the domain"); });
  }
  Napi::Value Start(const Napi::CallbackInfo& info) {
    unsigned int flags = Flags(info, 1);
    return OnDomain(info, [flags](virDomainPtr d) { return Check(virDomainCreateWithFlags(d, flags), "cannot start the domain"); });
  }
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    unsigned int flags = Flags(info, 1);
    return OnDomain(info, [flags](virDomainPtr d) { return Check(virDomainDestroyFlags(d, flags), "cannot destroy the domain"); });
  }
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    unsigned int flags = Flags(info, 1);
    return OnDomain(info, [flags](virDomainPtr d) { return Check(virDomainShutdownFlags(d, flags), "cannot shut the domain down"); });
  }
  Napi::Value Suspend(const Napi::CallbackInfo& info) {
    return OnDomain(info, [](virDomainPtr d) { return Check(virDomainSuspend(d), "cannot pause the domain"); });
  }
  Napi::Value Resume(const Napi::CallbackInfo& info) {
    return OnDomain(info, [](virDomainPtr d) { return Check(virDomainResume(d), "cannot resume the domain"); });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    return OnDomain(info, [](virDomainPtr d) -> Build {
      virDomainInfo i{};
      if (virDomainGetInfo(d, &i) < 0) throw LastError("cannot read the domain info");
      return [i](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("state", static_cast<int>(i.state));
        o.Set("maxMemKiB", static_cast<double>(i.maxMem));
        o.Set("memoryKiB", static_cast<double>(i.memory));
        o.Set("vcpus", static_cast<int>(i.nrVirtCpu));
        o.Set("cpuTimeNs", static_cast<double>(i.cpuTime));
        return o;
      };
    });
  }

  // allDomainStats(statsMask, flags) -> [{uuid, name, stats: {field: number|string}}]
  Napi::Value AllDomainStats(const Napi::CallbackInfo& info) {
    Napi::Promise rejected;
    if (Closed(info, &rejected)) return rejected;
    virConnectPtr conn = conn_;
    virConnectRef(conn);
    unsigned int stats = Flags(info, 0);
    unsigned int flags = Flags(info, 1);
    return Schedule(info.Env(), [conn, stats, flags]() -> Build {
      std::unique_ptr<virConnect, int (*)(virConnectPtr)> hold(conn, virConnectClose);
      virDomainStatsRecordPtr* records = nullptr;
      int n = virConnectGetAllDomainStats(conn, stats, &records, flags);
      if (n < 0) throw LastError("cannot read domain statistics");
      std::vector<DomainStats> out;
      out.reserve(n);
      for (int i = 0; i < n; i++) {
        DomainStats s;
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        virDomainGetUUIDString(records[i]->dom, uuid);
        s.uuid = uuid;
        const char* name = virDomainGetName(records[i]->dom);
        s.name = name != nullptr ? name : "";
        s.values = CopyParams(records[i]->params, records[i]->nparams);
        out.push_back(std::move(s));
      }
      virDomainStatsRecordListFree(records);
      return [out = std::move(out)](Napi::Env env) -> Napi::Value {
        Napi::Array a = Napi::Array::New(env, out.size());
        for (size_t i = 0; i < out.size(); i++) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("uuid", out[i].uuid);
          o.Set("name", out[i].name);
          Napi::Object values = Napi::Object::New(env);
          for (const TypedValue& v : out[i].values) {
            if (v.type == VIR_TYPED_PARAM_STRING) values.Set(v.field, v.text);
            else values.Set(v.field, v.number);
          }
          o.Set("stats", values);
          a.Set(i, o);
        }
        return a;
      };
    });
  }

};

Napi::FunctionReference* Connection::constructor = nullptr;

Napi::Value Version(const Napi::CallbackInfo& info) {
  unsigned long version = 0;
  virGetVersion(&version, nullptr, nullptr);
  return Napi::Number::New(info.Env(), static_cast<double>(version));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  StartEventLoop();
  // Registered after Node's own N-API cleanup, so it runs before any finalizer (hooks run in reverse order).
  env.AddCleanupHook([] { exiting = true; });
  Napi::Function ctor = Connection::Init(env);
  Connection::constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
  exports.Set("open", Napi::Function::New(env, Connection::Open));
  exports.Set("libvirtVersion", Napi::Function::New(env, Version));
  exports.Set("monotonicMs", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), MonotonicMs()); }));
  return exports;
}

}  // namespace

NODE_API_MODULE(vdsm_libvirt, Init)
