#pragma once
// Runs the viewer's slow work (loading, attention, similarity, building figures) on Qt's thread pool
// and hands the result back to the GUI thread. Jobs live in named slots: starting a job in a slot
// cancels the one already there (a new sequence supersedes the old one's attention maps), and only the
// newest job of a slot delivers.
#include <QFutureWatcher>
#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <map>
#include <memory>

#include "gui/job_control.h"

namespace performer::view {

class JobRunner : public QObject {
  Q_OBJECT
 public:
  // What a finished job does on the GUI thread: typically stores its result and updates a widget.
  using Deliver = std::function<void()>;
  // Runs on a pool thread; may throw (the message goes to failed()) or Cancelled (silently dropped).
  using Work = std::function<Deliver(const JobControl&)>;

  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;

  void start(const QString& slot, const QString& label, Work work);
  void cancel_all();
  bool busy() const { return !running_.empty(); }

 Q_SIGNALS:
  // total 0: no known end. label: what the job is ("attention maps"); stage: where it is.
  void progress(const QString& label, int done, int total, const QString& stage);
  void busy_changed(bool busy);
  void failed(const QString& label, const QString& message);

 private:
  struct Outcome {
    Deliver deliver;  // set on success
    QString error;    // set on failure; both empty when cancelled
  };
  struct Job {
    quint64 id = 0;
    QString label;
    std::shared_ptr<std::atomic<bool>> cancel;
    QFutureWatcher<Outcome>* watcher = nullptr;
  };
  void finish(const QString& slot, quint64 id);

  std::map<QString, Job> running_;
  quint64 next_id_ = 1;
};

}  // namespace performer::view
