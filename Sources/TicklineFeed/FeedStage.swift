import TicklineCore
import TicklineMarketData
import TicklineNet
import TicklineRing
import TicklineRuntime

/// The feed stage of an engine: every configured feed, in `feeds:` order, on one thread,
/// sharing one `FeedOutlet` (so strategy, risk and the paper venues read every feed from
/// the same rings), and the consumer of `control.feed`, which hands each command to the
/// feed it names. Owned by one runner thread; no allocation per event or command.
public final class FeedStage: Agent {
    public let roleName = "feed"
    public let feeds: [FeedAgent]
    public let outlet: FeedOutlet
    private let commands: CommandInbox?
    /// Commands naming a feed the engine does not have (each also refused by no feed).
    public private(set) var unroutedCommands: UInt64 = 0

    /// - Parameters:
    ///   - feeds: each feed with its universe (its venue's instruments, with the engine's ids).
    ///   - venueCopies: also feed the paper venues' rings.
    ///   - commands: consume `control.feed`.
    ///   - transport: each connection's transport by feed and connection index; nil = TCP
    ///     sockets on `backend` (a replay passes recordings).
    public init(feeds: [(config: FeedConfig, instruments: InstrumentTable)], region: SharedRegion,
                backend: NetBackend = NetBackend.detect().backend, venueCopies: Bool, commands: Bool,
                transport: ((_ feed: Int, _ connection: Int) -> any Transport)? = nil) throws(FeedSetupError) {
        precondition(feeds.count <= Int(UInt8.max) + 1, "\(feeds.count) feeds: a command addresses at most 256")
        do {
            outlet = try FeedOutlet(region: region, venueCopies: venueCopies)
            self.commands = commands ? CommandInbox(try region.consumer(of: FeedCommand.self, ring: "control.feed")) : nil
        } catch {
            throw .region("\(error)")
        }
        var built: [FeedAgent] = []
        for (k, f) in feeds.enumerated() {
            let agent = try FeedAgent(config: f.config, instruments: f.instruments, outlet: outlet, backend: backend,
                                      transport: transport.map { make in { make(k, $0) } })
            agent.feedIndex = UInt8(k)
            built.append(agent)
        }
        self.feeds = built
    }

    public func onStart() { for f in feeds { f.onStart() } }

    public func doWork(now: DutyCycleTime) -> Int {
        var work = 0
        // Commands first: a request's symbols then leave in one batched SUBSCRIBE below.
        if let commands {
            work += commands.ring.drain(limit: FeedAgent.commandsPerCycle) { command, _ in
                let k = Int(command.pointee.feed)
                if k < feeds.count { feeds[k].apply(command.pointee) } else { unroutedCommands &+= 1 }
            }
        }
        for f in feeds { work += f.doWork(now: now) }
        return work
    }

    public func onClose() { for f in feeds { f.onClose() } }
}
