from theme_generation.app import main

main()
