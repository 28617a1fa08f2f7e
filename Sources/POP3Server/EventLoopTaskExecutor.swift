// POP3Server: an event loop as a Swift task executor, so slow work resumes on the loop.
import NIOCore

/// Runs the jobs of a task on one event loop (a task executor, SE-0417).
///
/// A task started with this executor as its preference runs its nonisolated async code on
/// the loop: when the store or the account database completes work on a thread pool, the
/// task resumes straight on the loop, instead of on Swift's cooperative pool and then the
/// loop. One hop out and one back per slow step.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = self.asUnownedTaskExecutor()
        self.eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
