# Unit suites (Check), one binary per tests/unit/test_*.c.
exec scripts/run-suites.sh unit
