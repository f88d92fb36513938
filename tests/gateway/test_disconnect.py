"""The stream's watch on its client's socket: fires once when the client hangs up, never after stop().

stop() takes the read watcher off the event loop at once: the server may close the socket (or accept a new
connection on the same descriptor number) right after the stream ends, and a watcher left on that
descriptor stopped the whole process with a libev assertion.
"""
from __future__ import annotations

import gevent
import pytest
from gevent import socket

from ethergate.gateway import disconnect

pytestmark = pytest.mark.one_engine


def pair():
    server, client = socket.socketpair()
    return server, client


def test_a_client_that_hangs_up_is_noticed_once():
    server, client = pair()
    calls = []
    watch = disconnect.watch({"ethergate.client_socket": server}, lambda: calls.append(1))
    gevent.sleep(0.01)
    assert calls == []
    client.close()
    gevent.sleep(0.05)
    assert calls == [1]
    disconnect.stop(watch)
    server.close()


def test_data_from_the_client_is_not_a_hang_up():
    server, client = pair()
    calls = []
    watch = disconnect.watch({"ethergate.client_socket": server}, lambda: calls.append(1))
    client.sendall(b"GET / HTTP/1.1\r\n")
    gevent.sleep(0.05)
    assert calls == [] and server.recv(100) == b"GET / HTTP/1.1\r\n"  # the bytes stay for the server to read
    disconnect.stop(watch)
    server.close()
    client.close()


def test_after_stop_nothing_watches_the_descriptor():
    server, client = pair()
    calls = []
    watch = disconnect.watch({"ethergate.client_socket": server}, lambda: calls.append(1))
    gevent.sleep(0.01)
    disconnect.stop(watch)
    assert not watch.io.active  # off the loop at once, not a turn later
    client.close()
    server.close()  # the server closes the socket in the same turn, as it does after the last event
    reused, peer = pair()  # a new connection may get the same descriptor number
    gevent.sleep(0.05)
    peer.close()
    gevent.sleep(0.05)
    assert calls == []
    reused.close()


def test_a_hang_up_seen_just_before_stop_is_not_reported_after_it():
    server, client = pair()
    calls = []
    watch = disconnect.watch({"ethergate.client_socket": server}, lambda: calls.append(1))
    client.close()
    watch._readable()  # the loop saw the hang-up and scheduled the look at the socket...
    disconnect.stop(watch)  # ...and the stream ended before it ran: its upstream may already be pooled
    gevent.sleep(0.05)
    assert calls == []
    server.close()


def test_a_socket_already_closed_counts_as_gone():
    server, client = pair()
    server.close()
    client.close()
    calls = []
    assert disconnect.watch({"ethergate.client_socket": server}, lambda: calls.append(1)) is None
    assert calls == [1]


def test_no_socket_no_watch():
    assert disconnect.watch({}, lambda: None) is None
    disconnect.stop(None)
