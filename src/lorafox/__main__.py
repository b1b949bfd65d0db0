from lorafox.cli import main

main()
