"""The month simulation of issue 6: strategies, compressed time, calls and freshness."""
