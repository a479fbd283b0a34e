from file_server.app import main

main()
