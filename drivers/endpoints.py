"""Where a virtual board listens: a pseudo-terminal or a TCP port.

An endpoint hands out streams (`accept`); a stream reads what has arrived and writes
whole buffers. A pty has one endless stream; a TCP listener one per client connection.
The protocols and each endpoint live in modules of their own, re-exported here.
"""
from drivers.endpoint_protocol import WRITE_STALL_S, ByteStream, Endpoint
from drivers.pty_endpoint import PtyEndpoint
from drivers.tcp_endpoint import TcpEndpoint, parse_host_port

__all__ = ["WRITE_STALL_S", "ByteStream", "Endpoint", "PtyEndpoint", "TcpEndpoint", "parse_host_port"]
