from llmbench_jupyter.sim.cli import main

raise SystemExit(main())
