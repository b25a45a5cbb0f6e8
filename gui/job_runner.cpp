#include "gui/job_runner.h"

#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

namespace performer::view {

JobRunner::JobRunner(QObject* parent) : QObject(parent) {}

JobRunner::~JobRunner() {
  // Pool threads must not outlive the objects their results would be delivered to.
  cancel_all();
  for (auto& [slot, job] : running_) job.watcher->waitForFinished();
}

void JobRunner::start(const QString& slot, const QString& label, Work work) {
  if (auto old = running_.find(slot); old != running_.end()) {
    old->second.cancel->store(true);
    old->second.watcher->disconnect(this);
    old->second.watcher->deleteLater();  // its thread finishes on its own; nobody listens
    running_.erase(old);
  }
  const bool was_busy = busy();
  Job job;
  job.id = next_id_++;
  job.label = label;
  job.cancel = std::make_shared<std::atomic<bool>>(false);
  job.watcher = new QFutureWatcher<Outcome>(this);
  const quint64 id = job.id;
  connect(job.watcher, &QFutureWatcher<Outcome>::finished, this, [this, slot, id] { finish(slot, id); });

  QPointer<JobRunner> self(this);
  JobControl control;
  control.cancelled = [cancel = job.cancel] { return cancel->load(); };
  control.progress = [self, label, cancel = job.cancel](int done, int total, const QString& stage) {
    // Queued to the GUI thread; a runner gone or a job cancelled meanwhile simply drops it.
    QMetaObject::invokeMethod(
        self.data(),
        [self, label, cancel, done, total, stage] {
          if (self && !cancel->load()) Q_EMIT self->progress(label, done, total, stage);
        },
        Qt::QueuedConnection);
  };
  running_[slot] = job;
  job.watcher->setFuture(QtConcurrent::run([work = std::move(work), control]() -> Outcome {
    try {
      return {work(control), {}};
    } catch (const Cancelled&) {
      return {};
    } catch (const std::exception& e) {
      // LibTorch messages run on with a C++ backtrace; the user needs the first line.
      return {{}, QString::fromLocal8Bit(e.what()).section('\n', 0, 0)};
    }
  }));
  Q_EMIT progress(label, 0, 0, "starting");
  if (!was_busy) Q_EMIT busy_changed(true);
}

void JobRunner::cancel_all() {
  for (auto& [slot, job] : running_) job.cancel->store(true);
}

void JobRunner::finish(const QString& slot, quint64 id) {
  const auto it = running_.find(slot);
  if (it == running_.end() || it->second.id != id) return;
  const Job job = it->second;
  running_.erase(it);
  const Outcome outcome = job.watcher->result();
  job.watcher->deleteLater();
  if (!job.cancel->load()) {
    if (!outcome.error.isEmpty()) Q_EMIT failed(job.label, outcome.error);
    else if (outcome.deliver) outcome.deliver();
  }
  if (!busy()) Q_EMIT busy_changed(false);
}

}  // namespace performer::view
