from babelstream.cli import main
import sys
sys.exit(main())
