import sys
from pathlib import Path

# the chat_templates helper module lives beside the tests
sys.path.insert(0, str(Path(__file__).parent))
