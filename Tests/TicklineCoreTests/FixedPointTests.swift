import Testing
import TicklineCore

@Suite struct FixedPointTests {
    @Test func parsesDecimalsExactlyWithoutDouble() {
        #expect(DecimalScale.parse("61837.63000000", decimals: 8) == 6_183_763_000_000)
        #expect(DecimalScale.parse("0.02000000", decimals: 8) == 2_000_000)
        #expect(DecimalScale.parse("12", decimals: 2) == 1200)
        #expect(DecimalScale.parse("-0.5", decimals: 1) == -5)
        #expect(DecimalScale.parse(".5", decimals: 1) == 5)
        #expect(DecimalScale.parse("0.1", decimals: 18) == 100_000_000_000_000_000)
    }

    @Test func rejectsMalformedOrTooPreciseText() {
        #expect(DecimalScale.parse("", decimals: 2) == nil)
        #expect(DecimalScale.parse("-", decimals: 2) == nil)
        #expect(DecimalScale.parse("1.2.3", decimals: 2) == nil)
        #expect(DecimalScale.parse("1e5", decimals: 2) == nil)
        #expect(DecimalScale.parse("0.123", decimals: 2) == nil)      // a digit beyond the scale
        #expect(DecimalScale.parse("0.1200", decimals: 2) == 12)      // trailing zeros are fine
        #expect(DecimalScale.parse("99999999999", decimals: 9) == nil)  // overflows Int64
    }

    @Test func convertsToDoubleAtTheScale() {
        #expect(Price(units: 6_183_763).doubleValue(decimals: 2) == 61837.63)
        #expect(Quantity(units: 5).doubleValue(decimals: 1) == 0.5)
    }

    @Test func manualClockOnlyMovesForward() {
        var clock = ManualClock(startNs: 10, wallStartNs: 1_000)
        clock.advance(byNs: 5)
        #expect(clock.now.monotonic == 15 && clock.now.wall == 1_005)
        clock.set(wall: 1_100)
        #expect(clock.now.monotonic == 110 && clock.now.wall == 1_100)
        #expect(Clock.monotonic() > 0 && Clock.wall() > 1_700_000_000_000_000_000)
    }

    @Test func instantsOfOneClockGiveDurationsAndMoveByThem() {
        let t = MonotonicNanos(1_000)
        let later = t + 250
        #expect(later - t == 250 && later > t && later - 250 == t)
        let w = WallNanos(86_400_000_000_000)
        #expect((w + 1) - w == 1 && MemoryLayout<WallNanos>.size == 8 && MemoryLayout<MonotonicNanos>.size == 8)
    }
}
