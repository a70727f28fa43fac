from cockpit.entry import main

raise SystemExit(main())
