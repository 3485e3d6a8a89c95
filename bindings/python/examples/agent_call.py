#!/usr/bin/env python3
"""One call through the local motan-agent, the way a short-lived script does it.

The agent (build/bin/motan-agent, docs/agent.md) holds the registry session, the warm
connections and the fusing history; this process only needs a plain URL:

    python3 bindings/python/examples/agent_call.py [URL] [NAME]
    URL default motan2://127.0.0.1:9981/com.example.EchoService (or motan2://[unix:/path]/...)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import motan  # noqa: E402

url = sys.argv[1] if len(sys.argv) > 1 else "motan2://127.0.0.1:9981/com.example.EchoService"
with motan.Client(url + ("&" if "?" in url else "?") + "requestTimeout=1000") as c:
    print(c.call("echo", sys.argv[2] if len(sys.argv) > 2 else "hello from python"))
