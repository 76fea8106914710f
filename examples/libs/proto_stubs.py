# Generates the Python stubs (microservice_pb2, microservice_pb2_grpc) from the repository's
# proto/ at start-up, with the grpc_tools.protoc of Debian's python3-grpc-tools: the guide
# runs the same command once by hand (section 12.2); doing it per run keeps generated code,
# which is tied to one protobuf release, out of the repository. It takes about 0.1 s.
import atexit
import os
import shutil
import tempfile


def find_proto_dir(start):
    """The nearest proto/ folder holding microservice.proto at or above start."""
    folder = os.path.abspath(start)
    while True:
        candidate = os.path.join(folder, "proto")
        if os.path.isfile(os.path.join(candidate, "microservice.proto")):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            raise SystemExit("no proto/microservice.proto in %s or any folder above it" % start)
        folder = parent


def generate_stubs(*proto_files):
    """Writes the stubs of proto_files into a temporary folder, removed at exit, and returns it."""
    try:
        from grpc_tools import protoc
    except ImportError as e:
        raise SystemExit("cannot generate the gRPC stubs: %s (apt install python3-grpc-tools)" % e)
    proto_dir = find_proto_dir(os.path.dirname(__file__))
    out_dir = tempfile.mkdtemp(prefix="qm-example-stubs-")
    atexit.register(shutil.rmtree, out_dir, True)
    status = protoc.main([
        "grpc_tools.protoc",
        "-I" + proto_dir,
        "--python_out=" + out_dir,
        "--grpc_python_out=" + out_dir,
    ] + [os.path.join(proto_dir, name) for name in proto_files])
    if status != 0:
        raise SystemExit("grpc_tools.protoc failed on %s (exit %d)" % (", ".join(proto_files), status))
    return out_dir
