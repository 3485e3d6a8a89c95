# Integration suites against real servers (test server, ZooKeeper, registry fixtures).
exec scripts/run-suites.sh integration
