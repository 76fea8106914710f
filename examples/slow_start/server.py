# The slow_start example: a Python service written as the guide's sections 12.4-12.6 write
# one, which takes SLOW_START_SECONDS (default 1.5) to warm up before it binds its port, as
# a service loading a model would. qm must wait for it rather than call it failed.
# Call only (no health service), with mTLS and its version in the response metadata.
import argparse
import grpc
import json
import logging
import signal
import sys
import os
import time
from concurrent import futures

# Add libs to path
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'libs'))
from version_mixin import VersionMixin
from proto_stubs import generate_stubs

sys.path.insert(0, generate_stubs("microservice.proto"))
import microservice_pb2
import microservice_pb2_grpc

logger = logging.getLogger("slow_start")

SERVICE_VERSION = "1.0.0"

# How long a SIGTERM gives the calls in flight before they are cut off.
SHUTDOWN_GRACE_SECONDS = 5


class SlowStartServicer(microservice_pb2_grpc.MicroServiceServicer, VersionMixin):
    VERSION = SERVICE_VERSION

    def Call(self, request_iterator, context):
        """
        Bidirectional streaming handler.
        Receives Frame messages from the client, processes them,
        and yields Frame messages back.
        """
        for request_frame in request_iterator:
            try:
                data = json.loads(request_frame.payload)
                oauth2 = data.get("oauth2", {})
                records = data.get("data", [])
                tod = data.get("tod", "object")
                eos = data.get("eos", False)

                # Process each record
                for record in records:
                    meta = record.get("meta", {})
                    content = record.get("content", {})
                    result_content = {"echo": content}
                    response_data = {
                        "oauth2": oauth2,
                        "data": [{"meta": meta, "content": result_content}],
                        "tod": tod,
                        "eos": False,
                    }
                    yield microservice_pb2.Frame(
                        payload=json.dumps(response_data)
                    )

                if eos:
                    # Send end-of-stream marker
                    yield microservice_pb2.Frame(
                        payload=json.dumps({"oauth2": oauth2, "data": [], "tod": "object", "eos": True})
                    )
            except Exception as e:
                logger.error("Error processing frame: %s", e)
                error_frame = {"error": str(e), "eos": True}
                yield microservice_pb2.Frame(payload=json.dumps(error_frame))


def parse_args():
    parser = argparse.ArgumentParser(description="Slow Start Microservice")
    parser.add_argument("--port", type=int, required=True, help="gRPC listen port")
    parser.add_argument("--ca-cert", required=True, help="CA certificate path")
    parser.add_argument("--server-cert", required=True, help="Server certificate path")
    parser.add_argument("--server-key", required=True, help="Server private key path")
    parser.add_argument("--max-workers", type=int, default=10, help="Thread pool size")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        type=str.upper, help="Logging level")
    return parser.parse_args()


def create_server_credentials(args):
    """Load certificates and create gRPC server credentials."""
    with open(args.ca_cert, 'rb') as f:
        ca_cert = f.read()
    with open(args.server_cert, 'rb') as f:
        server_cert = f.read()
    with open(args.server_key, 'rb') as f:
        server_key = f.read()

    credentials = grpc.ssl_server_credentials(
        [(server_key, server_cert)],
        root_certificates=ca_cert,
        require_client_auth=True,
    )
    return credentials


def warm_up_seconds():
    text = os.environ.get("SLOW_START_SECONDS", "1.5")
    try:
        seconds = float(text)
    except ValueError:
        raise SystemExit("SLOW_START_SECONDS must be a number of seconds, got %r" % text)
    if seconds < 0:
        raise SystemExit("SLOW_START_SECONDS must not be negative, got %r" % text)
    return seconds


def serve(args):
    credentials = create_server_credentials(args)
    delay = warm_up_seconds()
    logger.info("Slow Start warming up for %.1f s before it binds port %d", delay, args.port)
    time.sleep(delay)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.max_workers))
    microservice_pb2_grpc.add_MicroServiceServicer_to_server(
        SlowStartServicer(), server
    )
    server.add_secure_port(f"[::]:{args.port}", credentials)
    server.start()

    def stop(signum, frame):
        logger.info("%s received, stopping", signal.Signals(signum).name)
        server.stop(SHUTDOWN_GRACE_SECONDS)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("Slow Start listening on port %d with mTLS", args.port)
    server.wait_for_termination()


if __name__ == "__main__":
    args = parse_args()
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    serve(args)
