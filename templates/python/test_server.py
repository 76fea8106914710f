# Unit tests of __SERVICE__'s frame handling (guide section 12.12): the servicer's Call is fed
# Frame messages directly, without a server or a network. Run from this folder with
#   __PYTHON__ -m unittest
import json
import unittest

import health_pb2
import microservice_pb2
from server import HealthServicer, __CLASS__Servicer

OAUTH2 = {"url": "https://test.example.com"}


def frame(value):
    payload = value if isinstance(value, str) else json.dumps(value)
    return microservice_pb2.Frame(payload=payload)


def call(*frames):
    responses = list(__CLASS__Servicer().Call(iter([frame(f) for f in frames]), None))
    return [json.loads(response.payload) for response in responses]


class CallTest(unittest.TestCase):
    def test_answers_each_record_then_the_end_of_stream_frame(self):
        answers = call({
            "oauth2": OAUTH2,
            "data": [
                {"meta": {"filename": "a.txt"}, "content": {"text": "one"}},
                {"meta": {"filename": "b.txt"}, "content": {"text": "two"}},
            ],
            "tod": "object",
            "eos": True,
        })
        self.assertEqual(len(answers), 3)
        self.assertEqual([a["data"][0]["meta"]["filename"] for a in answers[:2]], ["a.txt", "b.txt"])
        for answer in answers[:2]:
            self.assertIs(answer["eos"], False)
            self.assertEqual(answer["oauth2"], OAUTH2)
            self.assertNotIn("error", answer)
        self.assertEqual(answers[-1], {"oauth2": OAUTH2, "data": [], "tod": "object", "eos": True})

    def test_a_frame_that_is_not_json_gets_an_error_frame_and_the_stream_goes_on(self):
        answers = call("{not json", {"oauth2": OAUTH2, "data": [{"meta": {}, "content": {}}], "eos": True})
        self.assertIn("bad frame", answers[0]["error"])
        self.assertIs(answers[0]["eos"], False)
        self.assertNotIn("error", answers[1])
        self.assertIs(answers[-1]["eos"], True)

    def test_a_record_that_is_not_an_object_gets_an_error_frame_of_its_own(self):
        answers = call({"oauth2": OAUTH2, "data": ["text", {"meta": {"n": 2}, "content": {}}], "eos": True})
        self.assertEqual(answers[0]["error"], "record 0 is not an object with meta and content")
        self.assertEqual(answers[1]["data"][0]["meta"], {"n": 2})
        self.assertIs(answers[2]["eos"], True)

    def test_the_stream_ends_with_end_of_stream_even_when_the_client_sent_none(self):
        answers = call({"oauth2": OAUTH2, "data": [{"meta": {}, "content": {}}]})
        self.assertIs(answers[-1]["eos"], True)
        self.assertEqual(len([a for a in answers if a["eos"]]), 1)


class HealthTest(unittest.TestCase):
    def test_serving_until_shutdown_begins(self):
        health = HealthServicer()
        request = health_pb2.HealthCheckRequest(service="")
        self.assertEqual(health.Check(request, None).status, health_pb2.HealthCheckResponse.SERVING)
        health.stop_serving()
        self.assertEqual(health.Check(request, None).status, health_pb2.HealthCheckResponse.NOT_SERVING)


if __name__ == "__main__":
    unittest.main()
