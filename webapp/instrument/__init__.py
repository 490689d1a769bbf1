"""What the lab installs in a server's worker around the app: request timelines
(:mod:`.trace`), gevent's hub monitor and the asyncio loop watchdog (:mod:`.hubmonitor`,
:mod:`.loopwatchdog`), a deadline for request headers (:mod:`.headerdeadline`) and which
model runs this code (:mod:`.runtime`)."""
