from hotcold.cli.app import main

main()
