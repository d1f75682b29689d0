import pathlib
import unittest

from encord_agent_sdk.testing import TestRun

from agent import runner

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


class PreLabel(unittest.TestCase):
    def test_captions_the_image_and_sends_it_to_triage(self):
        out = TestRun(
            runner,
            ontology=(FIXTURES / "ontology.json").read_text(),
            label_row=(FIXTURES / "label-row.json").read_text(),
        ).run("pre-label")
        self.assertEqual(out.pathway, "to triage")
        answers = [c.get_answer() for c in out.label_row.get_classification_instances()]
        self.assertEqual(answers, ["seen by {{name}}: street-01.png"])


if __name__ == "__main__":
    unittest.main()
