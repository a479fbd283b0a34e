"""Start file_server as the operations guide does, from this folder:

    cd file_server && pm2 start file_server.py --interpreter python

Run as a script, this folder is first on sys.path and its own name (file_server.py) would
shadow the package, so the repository root takes its place before anything is imported.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

from file_server.app import main  # noqa: E402

if __name__ == "__main__":
    main()
