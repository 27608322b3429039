from linkinsights.cli import main

main()
