#!/usr/bin/env python3
"""TA-Lib reference values for the TicklineIndicators tests.

Usage: talib_reference.py INPUT.csv OUTPUT.csv

INPUT.csv:  header `series,open,high,low,close,volume`, bars of each series in order.
OUTPUT.csv: header `series,index,<column>...`, one row per input bar; every value is
            Python's repr of the float (round-trips exactly), `nan` while TA-Lib has none.
The columns (names and parameters) are listed in COLUMNS below; the Swift tests read them
by name. Run by the tests with <repo>/.venv/bin/python (see Tools/python-env).
"""
import csv
import sys

import numpy as np
import talib


def columns(o, h, l, c, v):
    out = {}

    def macd(prefix, fast, slow, signal):
        line, sig, hist = talib.MACD(c, fastperiod=fast, slowperiod=slow, signalperiod=signal)
        out[prefix] = line
        out[prefix + "_signal"] = sig
        out[prefix + "_hist"] = hist

    def bbands(prefix, period, dev):
        up, mid, low = talib.BBANDS(c, timeperiod=period, nbdevup=dev, nbdevdn=dev, matype=0)
        out[prefix + "_upper"] = up
        out[prefix + "_middle"] = mid
        out[prefix + "_lower"] = low

    def stoch(prefix, fastk, slowk, slowd):
        k, d = talib.STOCH(h, l, c, fastk_period=fastk, slowk_period=slowk, slowk_matype=0,
                           slowd_period=slowd, slowd_matype=0)
        out[prefix + "_k"] = k
        out[prefix + "_d"] = d

    # The defaults of `tickline indicators`.
    out["sma20"] = talib.SMA(c, timeperiod=20)
    out["ema20"] = talib.EMA(c, timeperiod=20)
    out["rsi14"] = talib.RSI(c, timeperiod=14)
    macd("macd", 12, 26, 9)
    bbands("bb20", 20, 2.0)
    out["atr14"] = talib.ATR(h, l, c, timeperiod=14)
    out["adx14"] = talib.ADX(h, l, c, timeperiod=14)
    out["plus_di14"] = talib.PLUS_DI(h, l, c, timeperiod=14)
    out["minus_di14"] = talib.MINUS_DI(h, l, c, timeperiod=14)
    stoch("stoch", 14, 3, 3)
    out["stddev20"] = talib.STDDEV(c, timeperiod=20, nbdev=1)
    # Other parameters, to catch period/seeding mistakes that defaults would hide.
    out["sma7"] = talib.SMA(c, timeperiod=7)
    out["ema5"] = talib.EMA(c, timeperiod=5)
    out["rsi5"] = talib.RSI(c, timeperiod=5)
    macd("macd_5_13_4", 5, 13, 4)
    bbands("bb10", 10, 1.5)
    out["atr5"] = talib.ATR(h, l, c, timeperiod=5)
    out["adx5"] = talib.ADX(h, l, c, timeperiod=5)
    out["plus_di5"] = talib.PLUS_DI(h, l, c, timeperiod=5)
    out["minus_di5"] = talib.MINUS_DI(h, l, c, timeperiod=5)
    stoch("stoch_5_2_4", 5, 2, 4)
    out["stddev7"] = talib.STDDEV(c, timeperiod=7, nbdev=1)
    return out


def main():
    source, destination = sys.argv[1], sys.argv[2]
    series = {}
    order = []
    with open(source, newline="") as f:
        for row in csv.DictReader(f):
            name = row["series"]
            if name not in series:
                series[name] = []
                order.append(name)
            series[name].append([float(row[k]) for k in ("open", "high", "low", "close", "volume")])
    with open(destination, "w", newline="") as f:
        header_written = False
        for name in order:
            data = np.array(series[name], dtype=np.float64)
            o, h, l, c, v = (np.ascontiguousarray(data[:, i]) for i in range(5))
            out = columns(o, h, l, c, v)
            names = list(out.keys())
            if not header_written:
                f.write(",".join(["series", "index"] + names) + "\n")
                header_written = True
            for i in range(len(c)):
                f.write(",".join([name, str(i)] + [repr(float(out[n][i])) for n in names]) + "\n")
    print(f"talib {talib.__version__} (C {talib.__ta_version__.decode()}): {len(order)} series")


if __name__ == "__main__":
    main()
