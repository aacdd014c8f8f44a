from annotation.cli import main

main()
