#include "core/distributed.h"

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <stdexcept>

#include "core/errors.h"

#if PERFORMER_HAVE_C10D
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace performer::core {
namespace {

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

int64_t number(const char* name, const std::string& text) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw ConfigError(std::string(name) + "='" + text + "' is not a number");
}

// The first line of a c10d/Gloo message (they carry C++ backtraces below it).
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

LaunchEnvironment launch_environment() {
  LaunchEnvironment e;
  if (!variable("WORLD_SIZE").empty() || !variable("RANK").empty()) {
    e.launcher = "torchrun";
    if (variable("WORLD_SIZE").empty() || variable("RANK").empty()) {
      throw ConfigError("RANK and WORLD_SIZE must be set together (as torchrun sets them)");
    }
    e.rank = number("RANK", variable("RANK"));
    e.world = number("WORLD_SIZE", variable("WORLD_SIZE"));
    e.local_rank = variable("LOCAL_RANK").empty() ? 0 : number("LOCAL_RANK", variable("LOCAL_RANK"));
  } else if (!variable("SLURM_NTASKS").empty() && !variable("SLURM_PROCID").empty()) {
    e.launcher = "slurm";
    e.rank = number("SLURM_PROCID", variable("SLURM_PROCID"));
    e.world = number("SLURM_NTASKS", variable("SLURM_NTASKS"));
    e.local_rank = variable("SLURM_LOCALID").empty() ? 0 : number("SLURM_LOCALID", variable("SLURM_LOCALID"));
    if (e.world > 1 && variable("MASTER_ADDR").empty()) {
      throw ConfigError("under Slurm, set MASTER_ADDR (and MASTER_PORT) in the batch script, e.g. "
                        "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)");
    }
  } else {
    return e;
  }
  if (e.world < 1 || e.rank < 0 || e.rank >= e.world) {
    throw ConfigError("rank " + std::to_string(e.rank) + " is not in a world of " + std::to_string(e.world) + " processes");
  }
  if (!variable("MASTER_ADDR").empty()) e.master_addr = variable("MASTER_ADDR");
  if (!variable("MASTER_PORT").empty()) {
    const int64_t port = number("MASTER_PORT", variable("MASTER_PORT"));
    if (port < 1 || port > 65535) throw ConfigError("MASTER_PORT=" + std::to_string(port) + " is not a port");
    e.port = static_cast<int>(port);
  }
  return e;
}

#if PERFORMER_HAVE_C10D

bool distributed_available() { return true; }

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  std::chrono::milliseconds timeout{0};
  std::string where;  // "rank 1 of 2"

  template <typename F>
  auto guarded(const std::string& what, F&& f) {
    try {
      return f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error("distributed (" + where + "): " + what + " failed: " + first_line(e.what()) +
                  " (another process ended, or none answered within --dist-timeout)");
    }
  }
};

Communicator::Communicator(const LaunchEnvironment& env, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), world_(env.world) {
  impl_->timeout = timeout;
  impl_->where = "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world);
  const std::string master = env.master_addr + ":" + std::to_string(env.port);
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(env.port);
    o.isServer = env.rank == 0;
    o.numWorkers = static_cast<size_t>(env.world);
    o.waitWorkers = true;
    o.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    throw Error("distributed (" + impl_->where + "): cannot " +
                std::string(env.rank == 0 ? "serve the rendezvous at " : "reach the rendezvous at ") + master + ": " +
                first_line(e.what()));
  }
  impl_->guarded("joining the process group", [&] {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const std::string interface = std::getenv("GLOO_SOCKET_IFNAME") ? std::getenv("GLOO_SOCKET_IFNAME") : "";
    if (!interface.empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    } else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(env.rank),
                                                               static_cast<int>(env.world), options);
    return 0;
  });
}

Communicator::~Communicator() = default;

void Communicator::broadcast(std::vector<at::Tensor>& tensors, int64_t root) {
  impl_->guarded("broadcast", [&] {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      impl_->group->broadcast(one, o)->wait();
    }
    return 0;
  });
}

void Communicator::all_reduce(at::Tensor& tensor) {
  impl_->guarded("all-reduce", [&] {
    std::vector<at::Tensor> one{tensor};
    impl_->group->allreduce(one)->wait();
    return 0;
  });
}

std::vector<double> Communicator::sum(const std::vector<double>& values) {
  at::Tensor t = at::tensor(values, at::kDouble);
  all_reduce(t);
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

void Communicator::barrier() {
  impl_->guarded("barrier", [&] {
    impl_->group->barrier()->wait();
    return 0;
  });
}

namespace {

template <typename WorkPtr>
class GlooPending : public Communicator::Pending {
 public:
  GlooPending(WorkPtr work, std::function<void(std::function<void()>)> guard)
      : work_(std::move(work)), guard_(std::move(guard)) {}
  void wait() override {
    guard_([this] { work_->wait(); });
  }

 private:
  WorkPtr work_;
  std::function<void(std::function<void()>)> guard_;
};

}  // namespace

std::unique_ptr<Communicator::Pending> Communicator::all_reduce_async(at::Tensor& tensor) {
  return impl_->guarded("all-reduce", [&]() -> std::unique_ptr<Pending> {
    std::vector<at::Tensor> one{tensor};
    auto work = impl_->group->allreduce(one);
    Impl* impl = impl_.get();
    return std::make_unique<GlooPending<decltype(work)>>(std::move(work), [impl](std::function<void()> f) {
      impl->guarded("all-reduce", [&] {
        f();
        return 0;
      });
    });
  });
}

#else  // no c10d in this LibTorch

bool distributed_available() { return false; }

struct Communicator::Impl {};

Communicator::Communicator(const LaunchEnvironment& env, std::chrono::milliseconds) : rank_(env.rank), world_(env.world) {
  throw ConfigError("this performer was built without LibTorch's c10d (Gloo): it trains in one process only");
}
Communicator::~Communicator() = default;
void Communicator::broadcast(std::vector<at::Tensor>&, int64_t) {}
void Communicator::all_reduce(at::Tensor&) {}
std::vector<double> Communicator::sum(const std::vector<double>& values) { return values; }
void Communicator::barrier() {}
std::unique_ptr<Communicator::Pending> Communicator::all_reduce_async(at::Tensor&) { return nullptr; }

#endif

struct GradientSync::Bucket {
  at::Tensor flat;
  std::vector<size_t> parameters;
  size_t ready = 0;
  std::unique_ptr<Communicator::Pending> pending;
};

GradientSync::GradientSync(Communicator& comm, std::vector<at::Tensor> parameters, int64_t bucket_bytes)
    : comm_(comm), parameters_(std::move(parameters)), where_(parameters_.size()) {
  // Buckets in reverse order of the parameters (the backward produces the last layers' gradients
  // first), each of one dtype and at most bucket_bytes (or one parameter, if that is larger).
  int64_t bytes = 0, elements = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const at::Tensor& p = parameters_[k];
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() || bytes + size > bucket_bytes ||
        parameters_[buckets_.back()->parameters.front()].scalar_type() != p.scalar_type()) {
      if (!buckets_.empty()) buckets_.back()->flat = at::zeros({elements}, parameters_[buckets_.back()->parameters.front()].options());
      buckets_.push_back(std::make_unique<Bucket>());
      bytes = elements = 0;
    }
    where_[k] = {buckets_.size() - 1, elements};
    buckets_.back()->parameters.push_back(k);
    elements += p.numel();
    bytes += size;
    stats_.bytes += size;
  }
  if (!buckets_.empty()) buckets_.back()->flat = at::zeros({elements}, parameters_[buckets_.back()->parameters.front()].options());
  stats_.buckets = static_cast<int64_t>(buckets_.size());
  for (size_t k = 0; k < parameters_.size(); ++k) {
    hooks_.push_back(parameters_[k].register_hook([this, k](const at::Tensor& grad) { ready(k, grad); }));
  }
}

GradientSync::~GradientSync() {
  for (size_t k = 0; k < hooks_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientSync::arm() {
  armed_ = true;
  stats_.early_buckets = 0;
}

void GradientSync::ready(size_t k, const at::Tensor& grad) {
  if (!armed_) return;
  torch::NoGradGuard no_grad;
  const auto [b, offset] = where_[k];
  Bucket& bucket = *buckets_[b];
  at::Tensor view = bucket.flat.narrow(0, offset, parameters_[k].numel());
  view.copy_(grad.reshape(-1));
  const at::Tensor& before = parameters_[k].grad();  // earlier micro-batches of this step
  if (before.defined()) view.add_(before.reshape(-1));
  if (++bucket.ready == bucket.parameters.size()) {
    launch(bucket);
    ++stats_.early_buckets;
  }
}

void GradientSync::launch(Bucket& bucket) { bucket.pending = comm_.all_reduce_async(bucket.flat); }

void GradientSync::finish() {
  torch::NoGradGuard no_grad;
  armed_ = false;
  // Buckets the backward did not complete (parameters without a gradient in it, or a micro-batch
  // that had none): filled from .grad, or zeros, and started now.
  for (auto& bucket : buckets_) {
    if (bucket->pending) continue;
    for (size_t k : bucket->parameters) {
      const auto [b, offset] = where_[k];
      at::Tensor view = bucket->flat.narrow(0, offset, parameters_[k].numel());
      const at::Tensor& g = parameters_[k].grad();
      if (g.defined()) view.copy_(g.reshape(-1));
      else view.zero_();
    }
    launch(*bucket);
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto& bucket : buckets_) {
    bucket->pending->wait();
    bucket->pending.reset();
    bucket->ready = 0;
  }
  stats_.wait_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (auto& bucket : buckets_) {
    for (size_t k : bucket->parameters) {
      const auto [b, offset] = where_[k];
      at::Tensor& p = parameters_[k];
      at::Tensor sum = bucket->flat.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(sum);
      else p.mutable_grad() = sum.clone();
    }
  }
}

}  // namespace performer::core
