# The __SERVICE__ microservice: quantra.MicroService/Call over mutual TLS, written after the
# Quantra microservice guide (sections 12.3-12.13). Records are processed one by one by
# process_record(); a frame or record that fails gets an error frame and the stream goes on.
# grpc.health.v1 is served too, so `qm health` and qm's supervisor get a direct answer.
#
# microservice_pb2*.py and health_pb2*.py were generated from the .proto files beside this
# one; after changing a .proto, run again from this folder:
#   python3 -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. microservice.proto health.proto
import argparse
import grpc
import json
import logging
import os
import signal
import sys
import threading
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import health_pb2
import health_pb2_grpc
import microservice_pb2
import microservice_pb2_grpc

logger = logging.getLogger("__SERVICE__")

# MAJOR.MINOR.BUILD: raise BUILD with every change (guide section 12.13).
SERVICE_VERSION = "1.0.0"
VERSION_METADATA_KEY = "x-service-version"

# How long a SIGTERM gives the calls in flight before they are cut off.
SHUTDOWN_GRACE_SECONDS = 5


def process_record(meta, content):
    """The service's work on one record; returns the content of its answer.

    Replace the body with this service's processing. An exception answers this
    record with an error frame and the stream goes on with the next one.
    """
    return {"received": content}


def error_frame(oauth2, message, meta=None):
    data = [{"meta": meta, "content": {}}] if meta is not None else []
    return {"oauth2": oauth2, "data": data, "tod": "object", "error": message, "eos": False}


def end_of_stream_frame(oauth2):
    return {"oauth2": oauth2, "data": [], "tod": "object", "eos": True}


def to_frame(value):
    return microservice_pb2.Frame(payload=json.dumps(value))


class __CLASS__Servicer(microservice_pb2_grpc.MicroServiceServicer):
    def Call(self, request_iterator, context):
        """
        Bidirectional streaming handler (guide sections 12.4 and 12.8): one answer frame
        per record, error frames instead of a broken stream, and the end-of-stream frame
        after the client's, or when the client stops sending without one.
        """
        # Before the first frame, so a client reads the version even from an empty stream.
        # A unit test passes context None (section 12.12).
        if context is not None:
            context.send_initial_metadata(((VERSION_METADATA_KEY, SERVICE_VERSION),))
        oauth2 = {}
        ended = False
        for request_frame in request_iterator:
            ended = False
            try:
                data = json.loads(request_frame.payload)
                if not isinstance(data, dict):
                    raise ValueError("the frame is not a JSON object")
            except ValueError as e:
                logger.warning("Bad frame: %s", e)
                yield to_frame(error_frame(oauth2, "bad frame: %s" % e))
                continue
            oauth2 = data.get("oauth2") if isinstance(data.get("oauth2"), dict) else {}
            records = data.get("data", [])
            tod = "table" if data.get("tod") == "table" else "object"
            if not isinstance(records, list):
                yield to_frame(error_frame(oauth2, 'bad frame: "data" is not an array'))
                records = []

            for index, record in enumerate(records):
                meta = record.get("meta", {}) if isinstance(record, dict) else {}
                try:
                    if not isinstance(record, dict):
                        raise ValueError("record %d is not an object with meta and content" % index)
                    result_content = process_record(meta, record.get("content", {}))
                except Exception as e:
                    logger.error("Error processing record %d: %s", index, e)
                    yield to_frame(error_frame(oauth2, str(e), meta))
                    continue
                yield to_frame({"oauth2": oauth2, "data": [{"meta": meta, "content": result_content}], "tod": tod, "eos": False})

            if data.get("eos") is True:
                yield to_frame(end_of_stream_frame(oauth2))
                ended = True
        if not ended:
            yield to_frame(end_of_stream_frame(oauth2))


class HealthServicer(health_pb2_grpc.HealthServicer):
    """grpc.health.v1: SERVING for the server ("") and quantra.MicroService until shutdown begins."""

    SERVICES = ("", "quantra.MicroService")

    def __init__(self):
        self._stopping = threading.Event()

    def stop_serving(self):
        self._stopping.set()

    def status(self, service):
        Status = health_pb2.HealthCheckResponse
        if service not in self.SERVICES:
            return Status.SERVICE_UNKNOWN
        return Status.NOT_SERVING if self._stopping.is_set() else Status.SERVING

    def Check(self, request, context):
        if context is not None:
            context.send_initial_metadata(((VERSION_METADATA_KEY, SERVICE_VERSION),))
        status = self.status(request.service)
        if status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN and context is not None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %s" % request.service)
        return health_pb2.HealthCheckResponse(status=status)

    def Watch(self, request, context):
        if context is not None:
            context.send_initial_metadata(((VERSION_METADATA_KEY, SERVICE_VERSION),))
        yield health_pb2.HealthCheckResponse(status=self.status(request.service))
        # The stream stays open until the client leaves or shutdown begins, as the health
        # protocol asks; waking each second notices a client that went away.
        while context is not None and context.is_active() and not self._stopping.wait(1.0):
            pass
        if self._stopping.is_set():
            yield health_pb2.HealthCheckResponse(status=self.status(request.service))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="__SERVICE__ microservice")
    parser.add_argument("--port", type=int, required=True, help="gRPC listen port")
    parser.add_argument("--ca-cert", required=True, help="CA certificate path")
    parser.add_argument("--server-cert", required=True, help="Server certificate path")
    parser.add_argument("--server-key", required=True, help="Server private key path")
    parser.add_argument("--max-workers", type=int, default=10, help="Thread pool size")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="Logging level")
    return parser.parse_args(argv)


def create_server_credentials(args):
    """Load certificates and create gRPC server credentials: client certificates required."""
    with open(args.ca_cert, 'rb') as f:
        ca_cert = f.read()
    with open(args.server_cert, 'rb') as f:
        server_cert = f.read()
    with open(args.server_key, 'rb') as f:
        server_key = f.read()
    return grpc.ssl_server_credentials(
        [(server_key, server_cert)],
        root_certificates=ca_cert,
        require_client_auth=True,
    )


def serve(args):
    credentials = create_server_credentials(args)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.max_workers))
    microservice_pb2_grpc.add_MicroServiceServicer_to_server(__CLASS__Servicer(), server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    try:
        port = server.add_secure_port(f"[::]:{args.port}", credentials)
    except RuntimeError as e:
        port = 0
        logger.debug("add_secure_port: %s", e)
    if port == 0:
        raise SystemExit("__SERVICE__: cannot listen on port %d (is it in use?)" % args.port)
    server.start()

    def stop(signum, frame):
        logger.info("%s received, stopping", signal.Signals(signum).name)
        health.stop_serving()
        server.stop(SHUTDOWN_GRACE_SECONDS)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("__SERVICE__ %s listening on port %d with mTLS", SERVICE_VERSION, port)
    server.wait_for_termination()


if __name__ == "__main__":
    args = parse_args()
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    serve(args)
