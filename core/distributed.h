#pragma once
// Data-parallel training on LibTorch's own c10d: the launcher's environment (torchrun or Slurm), a
// Gloo process group over a TCPStore, and the collectives the trainer needs, including gradients
// all-reduced bucket by bucket while the backward pass is still running.
#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace performer::core {

// Who this process is, from the environment a launcher sets. torchrun: RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT. Slurm (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, with
// MASTER_ADDR and MASTER_PORT set by the batch script. Neither: one process (world 1).
struct LaunchEnvironment {
  int64_t rank = 0;
  int64_t world = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int port = 29500;
  std::string launcher;  // "torchrun", "slurm" or "" (none)
  bool distributed() const { return world > 1; }
};

// ConfigError for values that make no sense (a rank outside the world, a port that is no number).
LaunchEnvironment launch_environment();

// Whether this build has c10d with Gloo (Debian's LibTorch does; a build against a LibTorch without
// its headers has not, and refuses a world size above 1).
bool distributed_available();

// One process group: Gloo over a TCPStore served by rank 0. Every collective waits at most `timeout`;
// a rank that died or hangs turns into an Error on the others ("distributed: ..."), never a silent hang.
class Communicator {
 public:
  Communicator(const LaunchEnvironment& env, std::chrono::milliseconds timeout);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world() const { return world_; }

  void broadcast(std::vector<at::Tensor>& tensors, int64_t root = 0);  // in place, CPU tensors
  void all_reduce(at::Tensor& tensor);                                 // sum, in place
  // Sum of one value per rank (a few numbers in one message).
  std::vector<double> sum(const std::vector<double>& values);
  void barrier();

  // An all-reduce started and not yet waited for.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };
  std::unique_ptr<Pending> all_reduce_async(at::Tensor& tensor);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_ = 0, world_ = 1;
};

// Gradients summed over ranks in buckets of about bucket_bytes: hooks on the parameters copy each
// gradient into its bucket as the backward produces it, and a full bucket's all-reduce starts at once,
// so communication overlaps the rest of the backward. arm() before the backward of a step's last
// micro-batch; finish() after it (starts what is left, waits, writes the sums into .grad).
class GradientSync {
 public:
  GradientSync(Communicator& comm, std::vector<at::Tensor> parameters, int64_t bucket_bytes = 4 << 20);
  ~GradientSync();
  void arm();
  void finish();

  struct Stats {
    int64_t bytes = 0;          // all-reduced per step
    int64_t buckets = 0;
    int64_t early_buckets = 0;  // of them, started during the last backward
    double wait_ms = 0;         // time finish() waited: communication the backward did not hide
  };
  const Stats& last() const { return stats_; }

 private:
  struct Bucket;
  void ready(size_t parameter, const at::Tensor& grad);
  void launch(Bucket& bucket);
  Communicator& comm_;
  std::vector<at::Tensor> parameters_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<std::pair<size_t, int64_t>> where_;  // parameter -> (bucket, offset)
  std::vector<unsigned> hooks_;
  bool armed_ = false;
  Stats stats_;
};

}  // namespace performer::core
