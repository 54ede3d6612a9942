#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TicklineFeed

/// The one reader of recordings: plain and gzip files give the same bytes; a missing file and
/// a corrupt gzip file are errors that name the file.
@Suite struct RecordingFileTests {
    let directory = NSTemporaryDirectory() + "tickline-recording-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func plainAndGzipFilesGiveTheSameBytes() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Larger than one 64 KiB read, so the read loop goes round.
        var lines: [UInt8] = []
        for i in 0..<5_000 { lines += Array("\(1_723_161_255_000_000_000 + i) {\"e\":\"trade\",\"t\":\(i)}\n".utf8) }
        let plain = try write("plain.txt", lines)
        #expect(try RecordingFile.load(plain) == lines)
        let gz = try write("copy.txt", lines)
        #expect(system("gzip -f '\(gz)'") == 0)
        #expect(try RecordingFile.load(gz + ".gz") == lines)
        #expect(try RecordingFile.load(try write("empty", [])) == [])
    }

    @Test func aMissingOrCorruptFileIsAnErrorNamingIt() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: RecordingReadError.self) { try RecordingFile.load("\(directory)/none.gz") }
        do {
            _ = try RecordingFile.load("\(directory)/none.gz")
        } catch {
            #expect(error.description.contains("none.gz: cannot open"))
        }
        let corrupt = try write("corrupt.gz", [0x1F, 0x8B] + Array(repeating: 0x41, count: 100))
        do {
            _ = try RecordingFile.load(corrupt)
            Issue.record("a corrupt gzip file loaded")
        } catch {
            #expect(error.description.contains("corrupt.gz: gzip -dc failed"), "\(error)")
        }
    }
}
