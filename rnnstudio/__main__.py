from rnnstudio.cli import main

raise SystemExit(main())
