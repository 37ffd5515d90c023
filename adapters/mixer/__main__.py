"""`python -m adapters.mixer --rpc URL [--amounts 0.1,1,10,100]`: deploy pools, print MIXER_CONTRACT_ADDRESS."""

from .deploy import main

raise SystemExit(main())
