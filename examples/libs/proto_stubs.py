# Generates the Python stubs (microservice_pb2, microservice_pb2_grpc) from the repository's
# proto/ at start-up, with the grpc_tools.protoc of Debian's python3-grpc-tools: the guide
# runs the same command once by hand (section 12.2); doing it per run keeps generated code,
# which is tied to one protobuf release, out of the repository. It takes about 0.1 s.
import atexit
import os
import shutil
import sys
import tempfile

# The Debian package that provides each module the stub generation imports. Debian 12's
# python3-grpc-tools imports pkg_resources without depending on python3-pkg-resources, so
# the module that is missing is not always the package the user thinks of.
DEBIAN_PACKAGES = {
    "grpc": "python3-grpcio",
    "grpc_tools": "python3-grpc-tools",
    "pkg_resources": "python3-pkg-resources",
}


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
        raise SystemExit(missing_module_message(e))
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


def missing_module_message(error):
    """One line naming the module that could not be imported and the package that provides it."""
    module = (error.name or "").split(".")[0]
    package = DEBIAN_PACKAGES.get(module)
    if package is None:
        return "cannot generate the gRPC stubs: %s" % error
    return "cannot generate the gRPC stubs: %s: no module named %r (install Debian's %s: apt-get install %s)" % (
        sys.executable, module, package, package)
