from theme_classification.app import main

main()
