import CTicklineAllocationCounter
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The counting malloc that `tickline bench decode` links with the AllocationCounter trait
/// (this test target links it always). Other tests run in parallel and allocate too, so only
/// lower bounds can be asserted.
@Suite struct AllocationCounterTests {
    @Test func countsADirectMalloc() {
        let before = tl_allocation_count()
        let pointer = malloc(64)
        #expect(pointer != nil)
        free(pointer)
        #expect(tl_allocation_count() >= before + 1)
    }

    /// An allocation the Swift runtime makes (libswiftCore calls malloc through its own
    /// import): counted only if the executable's definition interposes for shared libraries.
    @Test func countsASwiftRuntimeAllocation() {
        final class Box {
            var value: Int
            init(_ value: Int) { self.value = value }
        }
        let before = tl_allocation_count()
        let box = Box(42)
        let array = [Int](repeating: box.value, count: 1_000)
        #expect(array.count == 1_000)
        #expect(tl_allocation_count() >= before + 2)
    }

    @Test func countsCallocReallocAndAlignedAllocations() {
        let before = tl_allocation_count()
        var pointer = calloc(4, 16)
        pointer = realloc(pointer, 4_096)
        free(pointer)
        var aligned: UnsafeMutableRawPointer? = nil
        #expect(posix_memalign(&aligned, 256, 100) == 0)
        #expect(aligned.map { Int(bitPattern: $0) % 256 } == 0)
        free(aligned)
        let page = aligned_alloc(64, 128)
        #expect(page != nil)
        free(page)
        #expect(tl_allocation_count() >= before + 4)
    }

    @Test func refusesAnAlignmentThatIsNotAPowerOfTwo() {
        var pointer: UnsafeMutableRawPointer? = nil
        #expect(posix_memalign(&pointer, 24, 100) == EINVAL)
    }
}
