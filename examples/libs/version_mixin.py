# The shared VersionMixin of the guide's section 12.11 for the Python examples: mixed into
# a servicer, it sends the class's VERSION as x-service-version in the initial metadata of
# every Call, before the first frame, so the servicer's Call stays as the guide writes it.
import functools


class VersionMixin:
    VERSION = "0.0.0"
    VERSION_METADATA_KEY = "x-service-version"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("Call")
        if call is None:
            return

        @functools.wraps(call)
        def call_with_version(self, request_iterator, context):
            # A unit test calls Call with context None (section 12.12); there is no metadata to send then.
            if context is not None:
                context.send_initial_metadata(((self.VERSION_METADATA_KEY, self.VERSION),))
            yield from call(self, request_iterator, context)

        cls.Call = call_with_version
